"""A verified webhook body decoded into typed events (:mod:`ovenai.events`)."""
