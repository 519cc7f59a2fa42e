"""k8ssnap.domain: the pure rules of snapshots and restores.

Only the standard library, orjson and cronsim (pure cron arithmetic) are
imported here; nothing does I/O or reads a clock. Object identity and API
paths (``paths``), what to snapshot (``selection``), durations and expiry
(``expiry``), RestorePreference (``preference``), restore planning (``plan``
and the modules it re-exports: ``tiers``, ``facts``, ``exclusion``,
``transform``), and schedules (``cadence`` for when, ``schedule`` for runs,
retention and "the latest").
"""
