"""Pure rules: topics, routing (SPEC §4), support hours, customers, reply texts, message
preparation and signals, settings, logs. No Rasa, no network, no database; everything
else builds on this layer."""
