{#- Salt's template surface, as formulas use it; the expected values were checked on Salt 3008.5. -#}
{%- load_yaml as defaults %}
port: 8080
users: [alice, bob, alice]
nets:
  lan: 192.168.10.0/30
{%- endload %}
{%- load_json as extra %}{"users": ["carol"], "flags": [true, false, true]}{% endload %}
{%- load_text as motd %}hello from {{ grains.nodename }}{% endload %}
{%- set users = defaults.users | union(extra.users) %}
{%- set addrs = grains.ipv4 | default(['127.0.0.1', '10.1.2.3', '8.8.8.8']) %}
paths:
  test.configurable_test_state:
    - changes: False
    - comment: "{{ [sls, slspath, sls_path, slsdotpath, slscolonpath, tpldir, tplfile, tpldot, tplroot] | join(' ') }}"

data:
  test.configurable_test_state:
    - changes: False
    - comment: >-
        {{ defaults | traverse('nets:lan') }}
        {{ defaults.nets.lan | network_hosts | join(',') }}
        {{ users | join(',') }}
        {{ [1, [2, [3]]] | flatten | sum }}
        {{ extra.flags | exactly_n_true(2) }}
        {{ 'abc' | md5 }}
        {{ 'abc' | base64_encode }}
        {{ 'formula' | uuid }}
        {{ addrs | ipaddr('private') | join(',') }}
        {{ motd }}
        {{ salt.test.echo('attr') }}
        {{ salt['test.echo']('item') }}
    - name: {{ addrs | first | yaml_encode }}

quoted:
  test.configurable_test_state:
    - changes: False
    - comment: {{ grains.nodename | yaml_squote }}

{{ tplroot }}_params:
  test.configurable_test_state:
    {{ {'changes': False, 'comment': 'x: y'} | dict_to_sls_yaml_params | indent(4) }}
