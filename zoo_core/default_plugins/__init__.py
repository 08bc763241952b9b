"""The core's own plugins, registered through the same hooks as any installed plugin (the
loader imports them by name: ``zoo_core.plugins.DEFAULT_PLUGINS``)."""
