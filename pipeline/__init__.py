"""The Serge–Trotsky Papers pipeline: clean → segment → encode → package → validate → publish."""

__version__ = "0.1.0"
