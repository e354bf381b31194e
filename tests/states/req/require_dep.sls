dep_one:
  rec.same: []

dep_two:
  rec.changed: []
