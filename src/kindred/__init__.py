"""Kindred: a self-hosted, AI-native CRM platform."""

__version__ = "0.1.0"
