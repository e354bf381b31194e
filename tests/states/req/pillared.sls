from_pillar:
  test.show_notification:
    - text: "colour {{ pillar.get('colour', 'none') }}"
