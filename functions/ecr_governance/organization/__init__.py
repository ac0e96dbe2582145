"""Governing a whole AWS Organization from one hub: which accounts and regions, reached through each member's
governance role, with every event's provenance checked against the organization before any call."""
