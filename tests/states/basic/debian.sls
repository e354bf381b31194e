{% from 'map.jinja' import settings with context %}
debian_pkg:
  test.show_notification:
    - text: "{{ settings.pkg }} on port {{ settings.port }} ({{ sls }} in {{ saltenv }}, slspath '{{ slspath }}')"
