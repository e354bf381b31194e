fine:
  rec.same: []
{{ undefined_thing.attr }}:
  rec.same: []
