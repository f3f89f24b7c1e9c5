"""Moderation (issue 13, ../shared/MODERATION.md): what makes a message an advert or a flood, decided without
looking at each playbook. `content` finds links, phone numbers and the shop's own links (the allow-list of
config.yaml's `moderation:` section, `config`), `words` matches every word list in one pass, `flood` counts
messages per member and group, `index` turns all that into the moderation playbooks a message starts. The
stage that runs them is bot/stages/moderation.py."""
