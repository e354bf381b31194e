fine:
  rec.same: []
  - oops
