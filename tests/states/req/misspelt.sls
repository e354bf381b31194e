site:
  rec.strict:
    - mode: "0700"
    - mdoe: "0700"
    - require:
      - rec: other

other:
  rec.strict:
    - colour: blue

fine:
  rec.args:
    - anything: 1
    - cwd: /
