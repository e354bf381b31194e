sibling:
  rec.same: []
