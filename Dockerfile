# A thin wrapper over the same install and entry point CI tests: `pip install -e .` then `exchange serve`.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e .
ENV EXCHANGE_DATABASE_URL=sqlite:////data/exchange.db
VOLUME /data
EXPOSE 8000
CMD ["exchange", "serve", "--host", "0.0.0.0", "--port", "8000"]
