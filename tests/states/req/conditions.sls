{% set d = pillar['dir'] %}
only_true:
  rec.changed:
    - onlyif: "true"

only_false:
  rec.changed:
    - onlyif:
      - "true"
      - "false"

unless_true:
  rec.changed:
    - unless:
      - "true"
      - "test -d {{ d }}"

unless_mixed:
  rec.changed:
    - unless:
      - "true"
      - "false"

creates_yes:
  rec.changed:
    - creates: {{ d }}/exists

creates_no:
  rec.changed:
    - creates:
      - {{ d }}/exists
      - {{ d }}/missing

only_fun:
  rec.changed:
    - onlyif:
      - fun: test.echo
        args: [""]

cwd_unless:
  rec.changed:
    - cwd: {{ d }}
    - unless: "test -f exists"

checked_ok:
  rec.changed:
    - check_cmd: "true"

checked_bad:
  rec.changed:
    - check_cmd:
      - "true"
      - "false"
