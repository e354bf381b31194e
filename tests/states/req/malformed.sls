two_funs:
  rec:
    - same
    - changed

no_fun:
  rec:
    - name: x

twice:
  rec.same: []
  rec.changed: []

bad_order:
  rec.same:
    - order: soon
