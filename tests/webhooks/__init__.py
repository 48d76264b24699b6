"""Webhook tests: real receivers on loopback (tests/webhooks/receiver.py), injectable
resolvers standing in for DNS, no mocked HTTP."""
