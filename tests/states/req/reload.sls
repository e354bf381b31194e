{% set d = pillar['dir'] %}
{% set reload = pillar.get('reload', True) %}
install_module:
  rec.write_module:
    - name: {{ d }}/cache/extmods/modules/fresh.py
    - text: |
        def hello():
            """Say hello."""
            return "hello from fresh"
    - reload_modules: {{ reload }}

install_state:
  rec.write_module:
    - name: {{ d }}/extstates/freshstate.py
    - text: |
        def present(name):
            """Succeed."""
            return {"name": name, "result": True, "changes": {}, "comment": "fresh state"}
    - reload_modules: {{ reload }}

use_module:
  rec.call:
    - function: fresh.hello

use_state:
  freshstate.present: []
