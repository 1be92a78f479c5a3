"""Find and fetch councils' spending files (Scrapy), incrementally and politely.

Entry points: ``crawler.run.crawl(councils, out_dir)``, ``crawler.registry.load_registry()``,
``crawler.registry.resolve(name_or_code)``; CLI in ``crawler.cli``. See docs/crawler.md.
"""
