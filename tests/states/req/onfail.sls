ok:
  rec.same: []

broken:
  rec.fail: []

broken2:
  rec.fail: []

of_yes:
  rec.same:
    - onfail:
      - broken

of_no:
  rec.same:
    - onfail:
      - ok

of_any:
  rec.same:
    - onfail_any:
      - ok
      - broken

of_all_no:
  rec.same:
    - onfail_all:
      - ok
      - broken

of_all_yes:
  rec.same:
    - onfail_all:
      - broken
      - rec: broken2

broken3:
  rec.fail:
    - onfail_in:
      - of_in

of_in:
  rec.same: []
