-- pgro demo data: a small shop's analytics schema, generated deterministically.
-- deploy/run.sh loads it into a throwaway PostgreSQL when no UPSTREAM_HOST is configured:
--   psql -v ON_ERROR_STOP=1 -d demo -f deploy/demo/sample.sql
--
-- 1,000 customers, 60 products, 6,000 orders, ~15,000 order items, 2 views.
-- Queries to try through pgro:
--   SELECT * FROM daily_revenue ORDER BY day DESC LIMIT 7;
--   SELECT category, sum(revenue) FROM product_sales GROUP BY 1 ORDER BY 2 DESC;
--   SELECT country, count(*) FROM customers GROUP BY 1 ORDER BY 2 DESC;
--   DELETE FROM orders;   -- refused by pgro with SQLSTATE 25006

SELECT setseed(0.42);  -- same data on every run

CREATE TABLE customers (
    id           integer PRIMARY KEY,
    name         text        NOT NULL,
    email        text        NOT NULL UNIQUE,
    country      char(2)     NOT NULL,
    signed_up_at timestamptz NOT NULL
);
COMMENT ON TABLE customers IS 'People who have an account in the shop.';

CREATE TABLE products (
    id       integer PRIMARY KEY,
    sku      text          NOT NULL UNIQUE,
    name     text          NOT NULL,
    category text          NOT NULL,
    price    numeric(10,2) NOT NULL CHECK (price > 0)
);
COMMENT ON TABLE products IS 'The catalogue, with the current list price.';

CREATE TABLE orders (
    id          integer PRIMARY KEY,
    customer_id integer     NOT NULL REFERENCES customers (id),
    ordered_at  timestamptz NOT NULL,
    status      text        NOT NULL CHECK (status IN ('paid', 'shipped', 'refunded', 'cancelled'))
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON orders (ordered_at);
COMMENT ON TABLE orders IS 'One row per checkout.';

CREATE TABLE order_items (
    order_id   integer       NOT NULL REFERENCES orders (id),
    product_id integer       NOT NULL REFERENCES products (id),
    quantity   integer       NOT NULL CHECK (quantity > 0),
    unit_price numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
COMMENT ON TABLE order_items IS 'Lines of an order, at the price paid.';

INSERT INTO customers (id, name, email, country, signed_up_at)
SELECT i,
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia',
              'Linus'])[1 + (i % 10)] || ' ' ||
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen',
              'Thompson', 'Perlman', 'Torvalds', 'Stonebraker'])[1 + (i % 11)],
       'customer' || i || '@example.com',
       (ARRAY['DE', 'FR', 'US', 'GB', 'NL', 'SE', 'ES', 'IT', 'PL', 'JP'])[1 + floor(random() * 10)::int],
       timestamptz '2023-01-01 00:00:00+00' + random() * interval '730 days'
FROM generate_series(1, 1000) AS i;

INSERT INTO products (id, sku, name, category, price)
SELECT i,
       'SKU-' || lpad(i::text, 4, '0'),
       (ARRAY['Compact', 'Deluxe', 'Classic', 'Smart', 'Eco', 'Pro'])[1 + (i % 6)] || ' ' ||
       (ARRAY['kettle', 'lamp', 'backpack', 'keyboard', 'mug', 'chair', 'headphones', 'notebook',
              'bottle', 'plant'])[1 + ((i / 6) % 10)],
       (ARRAY['Kitchen', 'Home', 'Outdoor', 'Office', 'Electronics'])[1 + (i % 5)],
       round((5 + random() * 195)::numeric, 2)
FROM generate_series(1, 60) AS i;

INSERT INTO orders (id, customer_id, ordered_at, status)
SELECT i,
       1 + floor(random() * 1000)::int,
       timestamptz '2025-01-01 00:00:00+00' + random() * interval '365 days',
       CASE WHEN r < 0.70 THEN 'shipped'
            WHEN r < 0.90 THEN 'paid'
            WHEN r < 0.96 THEN 'refunded'
            ELSE 'cancelled' END
FROM (SELECT i, random() AS r FROM generate_series(1, 6000) AS i) AS g;

-- 1 to 4 distinct products per order: 13 * k mod 60 differs for k = 1..4.
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o.id, p.id, 1 + floor(random() * 3)::int, p.price
FROM orders AS o
CROSS JOIN LATERAL generate_series(1, 1 + (o.id * 7919) % 4) AS k
JOIN products AS p ON p.id = 1 + (o.id * 7 + k * 13) % 60;

CREATE VIEW daily_revenue AS
SELECT (o.ordered_at AT TIME ZONE 'UTC')::date AS day,
       count(DISTINCT o.id)                    AS orders,
       sum(i.quantity * i.unit_price)          AS revenue
FROM orders AS o
JOIN order_items AS i ON i.order_id = o.id
WHERE o.status IN ('paid', 'shipped')
GROUP BY 1;
COMMENT ON VIEW daily_revenue IS 'Revenue of paid and shipped orders per UTC day.';

CREATE VIEW product_sales AS
SELECT p.id, p.sku, p.name, p.category,
       sum(i.quantity)                AS units,
       sum(i.quantity * i.unit_price) AS revenue
FROM products AS p
JOIN order_items AS i ON i.product_id = p.id
JOIN orders AS o ON o.id = i.order_id AND o.status IN ('paid', 'shipped')
GROUP BY p.id;
COMMENT ON VIEW product_sales IS 'Units sold and revenue per product (paid and shipped orders).';

ANALYZE;
