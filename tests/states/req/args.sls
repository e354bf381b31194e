strict_one:
  rec.strict:
    - mode: "0700"
    - require:
      - rec: args_env

args_env:
  rec.args:
    - anything: 1
    - unless: "false"
    - order: 1

missing_arg:
  rec.needs: []

raiser:
  rec.boom: []

bad_return:
  rec.bad: []

unknown_fun:
  rec.nonexistent: []
