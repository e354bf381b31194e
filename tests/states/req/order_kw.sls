a_last:
  rec.same:
    - order: last
b_plain:
  rec.same: []
c_two:
  rec.same:
    - order: 2
d_first:
  rec.same:
    - order: first
e_negative:
  rec.same:
    - order: -1
f_one:
  rec.same:
    - order: 1
