target:
  rec.args:
    - mode: "0644"
    - user: root
