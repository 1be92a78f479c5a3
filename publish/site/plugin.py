"""The councilspend Datasette plugin's hooks (the ``datasette`` entry point in pyproject.toml names the
package ``publish.site``, whose ``__init__`` re-exports them).

It adds the pages people read (home league table, council, supplier, quality, methodology, search,
check-your-file) on top of Datasette's own table, SQL and JSON pages, and an "ask the council about
this" link on every payment. Because the plugin is a package, Datasette itself puts
``publish/site/templates`` before its own (our ``base.html`` overrides its one, so every page has the
same header and search box) and serves ``publish/site/static`` at ``/-/static-plugins/councilspend/``.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

from publish.site import council_page, coverage, errors, guard, pages
from publish.site.foi import foi_url, wdtk_ids
from publish.site.templating import add_filters


@hookimpl
def register_routes():
    return [
        (r"^/$", pages.home),
        (r"^/council/(?P<council_id>[^/]+)$", council_page.council),
        (r"^/supplier/(?P<supplier_id>[^/]+)$", pages.supplier),
        (r"^/quality$", pages.quality_page),
        (r"^/coverage$", coverage.coverage_page),
        (r"^/methodology$", pages.methodology),
        (r"^/search$", pages.search),
        (r"^/check$", pages.check),
        (r"^/downloads$", pages.downloads),
    ]


@hookimpl
def prepare_jinja2_environment(env):
    add_filters(env)


@hookimpl(trylast=True)  # after Datasette's own, so our escape_fts replaces its
def prepare_connection(conn):
    guard.prepare_connection(conn)


@hookimpl
def asgi_wrapper(datasette):
    errors.retire_datasette_handler()  # its rich traceback printing fails under a real server
    errors.install_csv_query_errors()
    return lambda app: guard.Guard(app, datasette)


@hookimpl
def handle_exception(datasette, request, exception):
    """Every uncaught exception: the site's error page, 4xx for bad requests (``publish.site.errors``)."""
    return errors.handle_exception(datasette, request, exception)


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
        return Markup(
            f'{ref}<br><a class="foi" href="{escape(url)}" rel="nofollow">Ask the council about this</a>'
        )

    return inner


def _plain(value):
    """A cell value without Datasette's foreign-key expansion (``{"value": …, "label": …}``)."""
    return value.get("value") if isinstance(value, dict) else value
