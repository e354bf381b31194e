conf:
  rec.changed: []

listener:
  rec.same:
    - listen:
      - rec: conf

after:
  rec.same: []

stable:
  rec.same: []

quiet_listener:
  rec.same:
    - listen:
      - stable

conf2:
  rec.changed:
    - listen_in:
      - rec: in_listener

in_listener:
  rec.same: []
