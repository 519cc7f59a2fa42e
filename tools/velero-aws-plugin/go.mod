module k8ssnap.local/veleroawsplugin

go 1.26.0

require github.com/vmware-tanzu/velero-plugin-for-aws v1.14.3
