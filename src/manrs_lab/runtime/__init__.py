"""Runtimes deploy a lab instance's topology: netns (default) or containerlab."""
