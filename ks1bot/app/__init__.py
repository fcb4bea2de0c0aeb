"""Entry points: the `ks1bot` command line, `ks1bot serve`, the Rasa server wrapper, the
benchmark and calibration commands, and `wiring`, the one module that builds the Router,
the stores and the channels for every process. Only entry points import this package."""
