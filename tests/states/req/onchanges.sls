changes:
  rec.changed: []

nochanges:
  rec.same: []

broken:
  rec.fail: []

on_yes:
  rec.same:
    - onchanges:
      - changes

on_no:
  rec.same:
    - onchanges:
      - nochanges

on_mixed:
  rec.same:
    - onchanges:
      - nochanges
      - changes

on_failed:
  rec.same:
    - onchanges:
      - broken
      - changes

on_any_failed:
  rec.same:
    - onchanges_any:
      - broken
      - changes

changes_in:
  rec.changed:
    - onchanges_in:
      - on_in

on_in:
  rec.same: []
