include:
  - .child

inc_init:
  rec.same: []
