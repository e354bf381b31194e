include:
  - ..sibling
  - inc

inc_child:
  rec.same: []
