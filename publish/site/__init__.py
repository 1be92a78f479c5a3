"""The site: a Datasette plugin package (entry point ``councilspend = publish.site`` in pyproject.toml).

Being a package (not a module) is what makes Datasette find ``templates/`` and ``static/`` here on its
own; the hooks live in ``publish/site/plugin.py`` and are re-exported for pluggy, which registers
the hook implementations it finds on this module.
"""

from publish.site.plugin import (  # noqa: F401  (re-exported: pluggy scans this module's attributes)
    asgi_wrapper,
    extra_template_vars,
    handle_exception,
    prepare_connection,
    prepare_jinja2_environment,
    register_routes,
    render_cell,
    skip_csrf,
)
