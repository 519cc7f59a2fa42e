module k8ssnap.local/velerobin

go 1.26.0

require github.com/vmware-tanzu/velero v1.18.3

// Copied from velero's own go.mod: a dependency's replace directives do not apply.
replace github.com/kopia/kopia => github.com/project-velero/kopia v0.0.0-20251230033609-d946b1e75197

// The module proxy refuses velero's pin v0.33.12; only the CLI's printing code uses it.
replace k8s.io/cli-runtime => k8s.io/cli-runtime v0.33.10
