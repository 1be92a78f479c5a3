"""The councilspend Datasette plugin (registered via the ``datasette`` entry point in pyproject.toml).

It adds the pages people read (home league table, council, supplier, quality, methodology, search,
check-your-file) on top of Datasette's own table, SQL and JSON pages, and an "ask the council about
this" link on every payment. Templates in ``publish/site/templates`` override Datasette's ``base.html`` so
every page has the same header and search box.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from publish.site import coverage, guard, pages
from publish.site.foi import foi_url, wdtk_ids
from publish.site.templating import STATIC, TEMPLATES, add_filters


@hookimpl
def register_routes():
    return [
        (r"^/$", pages.home),
        (r"^/council/(?P<council_id>[^/]+)$", pages.council),
        (r"^/supplier/(?P<supplier_id>[^/]+)$", pages.supplier),
        (r"^/quality$", pages.quality_page),
        (r"^/coverage$", coverage.coverage_page),
        (r"^/methodology$", pages.methodology),
        (r"^/search$", pages.search),
        (r"^/check$", pages.check),
        (r"^/downloads$", pages.downloads),
        (r"^/-/councilspend/(?P<name>[a-z0-9_-]+\.(css|svg))$", static_file),
    ]


async def static_file(request):
    name = request.url_vars["name"]
    path = STATIC / name
    if not path.is_file():
        return Response.text("not found", status=404)
    kind = "text/css" if name.endswith(".css") else "image/svg+xml"
    return Response(path.read_text(encoding="utf-8"), content_type=f"{kind}; charset=utf-8",
                    headers={"cache-control": "max-age=3600"})


@hookimpl
def prepare_jinja2_environment(env):
    # Datasette only finds plugin templates in packages, and this plugin is a module: put our
    # templates first in the loader so they also override Datasette's base.html.
    from jinja2 import ChoiceLoader, FileSystemLoader

    env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), env.loader])
    add_filters(env)


@hookimpl(trylast=True)  # after Datasette's own, so our escape_fts replaces its
def prepare_connection(conn):
    guard.prepare_connection(conn)


@hookimpl
def asgi_wrapper(datasette):
    return guard.Guard


@hookimpl
def skip_csrf(scope):
    # The check page reads an upload and discards it: nothing changes, so CSRF cannot harm anyone,
    # and scripted checks (curl -F) must work.
    return scope.get("path") == "/check"


@hookimpl
def extra_template_vars(request):
    return {"site_search_q": (request.args.get("q", "") if request else "")}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """On payments, turn the transaction reference into an "ask the council" FOI link."""
    if table != "payments" or column != "transaction_ref":
        return None

    async def inner():
        wdtk = await wdtk_ids(datasette, database)
        keys = list(row.keys()) if hasattr(row, "keys") else []
        payment = {k: _plain(row[k]) for k in keys}
        council_id = payment.get("council_id")
        slug = wdtk.get(council_id) if council_id else None
        ref = escape(value) if value is not None else ""
        if not slug:
            return None if value is None else Markup(ref)
        url = foi_url(slug, payment)
        return Markup(f'{ref}<br><a class="foi" href="{escape(url)}" rel="nofollow">Ask the council about this</a>')

    return inner


def _plain(value):
    """A cell value without Datasette's foreign-key expansion (``{"value": …, "label": …}``)."""
    return value.get("value") if isinstance(value, dict) else value
