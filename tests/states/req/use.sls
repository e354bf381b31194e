ok:
  rec.same: []

base_args:
  rec.args:
    - mode: "0600"
    - user: www
    - require:
      - ok

copier:
  rec.args:
    - user: root
    - use:
      - rec: base_args

giver:
  rec.args:
    - group: staff
    - use_in:
      - taker

taker:
  rec.args: []
