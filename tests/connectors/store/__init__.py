"""Tests of the state stores: one contract suite that every store must pass, and each store's own."""
