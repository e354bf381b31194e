include:
  - order
  - require_dep

exclude:
  - id: middle
  - sls: require_dep

kept:
  rec.same: []
