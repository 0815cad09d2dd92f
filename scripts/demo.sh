#!/usr/bin/env bash
# make demo: binlake's main job on this machine, start to finish.
#
# Starts a MariaDB of its own (data, socket and port under the demo
# directory; nothing global is touched), creates a small shop with data,
# starts `binlake ingest` into a lake in a local directory, runs a stream of
# orders, updates and deletes for a while, compacts, and then shows what
# binlake is for: the same query now and as of a minute ago, and the change
# feed between them. Everything stays running for exploring; `make
# demo-clean` stops it and removes what the demo made.
#
#   BINLAKE_DEMO_DIR      where everything lives (default /var/tmp/binlake-demo)
#   BINLAKE_DEMO_PORT     MariaDB's port (default 33306)
#   BINLAKE_DEMO_OPS_PORT the daemon's /metrics and /status port (default 39464)
#   BINLAKE_DEMO_SECONDS  how long the stream of changes runs (default 75)
#   BINLAKE_BIN           the binlake binary (default bin/binlake, built if missing)
#
# Re-running starts over: the previous demo's processes are stopped and its
# directory emptied first.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${BINLAKE_DEMO_DIR:-/var/tmp/binlake-demo}
port=${BINLAKE_DEMO_PORT:-33306}
ops_port=${BINLAKE_DEMO_OPS_PORT:-39464}
seconds=${BINLAKE_DEMO_SECONDS:-75}
cd "$here"
binlake=${BINLAKE_BIN:-bin/binlake}
password=demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

find_bin() {
	local name=$1
	command -v "$name" 2>/dev/null && return
	[[ -x /usr/sbin/$name ]] && { echo "/usr/sbin/$name"; return; }
	[[ -x /usr/bin/$name ]] && { echo "/usr/bin/$name"; return; }
	echo "demo: $name not found (scripts/ensure-mariadb.sh installs MariaDB)" >&2
	exit 1
}

bash "$here/scripts/demo-clean.sh" --quiet
mkdir -p "$dir"/{mariadb,run,warehouse,cache,logs}

say "1/7 MariaDB of the demo's own on 127.0.0.1:$port (data in $dir/mariadb)"
mariadbd=$(find_bin mariadbd)
installdb=$(find_bin mariadb-install-db)
client=$(find_bin mariadb)
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user=root"
cat >"$dir/my.cnf" <<EOF
[mariadbd]
$user_line
datadir=$dir/mariadb
socket=$dir/run/mariadb.sock
port=$port
bind-address=127.0.0.1
pid-file=$dir/run/mariadb.pid
skip-name-resolve
# what binlake needs (binlake init prints these for your own server)
log_bin=$dir/mariadb/binlog
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
server_id=1
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=2
[client]
socket=$dir/run/mariadb.sock
EOF
"$installdb" --defaults-file="$dir/my.cnf" --auth-root-authentication-method=socket --skip-test-db >"$dir/logs/install-db.log" 2>&1
nohup "$mariadbd" --defaults-file="$dir/my.cnf" >"$dir/logs/mariadb.log" 2>&1 &
echo $! >"$dir/run/mariadbd.pid"
sql() { "$client" --defaults-file="$dir/my.cnf" --user=root --batch --skip-column-names "$@"; }
for _ in $(seq 100); do
	sql -e "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.2
done
sql -e "SELECT 1" >/dev/null || { echo "demo: MariaDB did not start; see $dir/logs/mariadb.log" >&2; exit 1; }
echo "MariaDB $(sql -e 'SELECT VERSION()') is up"

say "2/7 A shop: customers, products, orders"
sql <<EOF
CREATE DATABASE shop;
USE shop;
CREATE TABLE customers (
  id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, city VARCHAR(40), since DATE
);
CREATE TABLE products (
  sku CHAR(8) PRIMARY KEY, title VARCHAR(80) NOT NULL, price DECIMAL(10,2) NOT NULL, tags SET('new','sale','eco')
);
CREATE TABLE orders (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  sku CHAR(8) NOT NULL,
  qty SMALLINT NOT NULL,
  total DECIMAL(12,2) NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  placed_at DATETIME(3) NOT NULL,
  updated TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
);
INSERT INTO customers VALUES
  (1,'Ada','London','2021-03-01'),(2,'Grace','Arlington','2020-07-15'),(3,'Linus','Helsinki','2019-11-30'),
  (4,'Barbara','Boston','2022-01-09'),(5,'Ken','Murray Hill',NULL),(6,'Margaret','Paoli','2023-05-05');
INSERT INTO products VALUES
  ('LAMP-001','Desk lamp',39.90,'new'),('MUG-0002','Mug',9.50,'eco'),('BOOK-003','Lakehouse book',45.00,'new,sale'),
  ('PEN-0004','Fountain pen',120.00,''),('BAG-0005','Canvas bag',24.00,'eco,sale');
INSERT INTO orders (customer_id, sku, qty, total, status, placed_at)
  SELECT 1 + (seq % 6), ELT(1 + seq % 5, 'LAMP-001','MUG-0002','BOOK-003','PEN-0004','BAG-0005'), 1 + seq % 3,
         (1 + seq % 3) * ELT(1 + seq % 5, 39.90, 9.50, 45.00, 120.00, 24.00),
         ELT(1 + seq % 4, 'new','paid','shipped','paid'), NOW(3) - INTERVAL seq MINUTE
  FROM seq_1_to_500;
CREATE USER binlake@'127.0.0.1' IDENTIFIED BY '$password';
GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO binlake@'127.0.0.1';
EOF
echo "shop: $(sql -e 'SELECT COUNT(*) FROM shop.orders') orders, 6 customers, 5 products"

say "3/7 binlake (building bin/binlake if needed)"
[[ -x $binlake ]] || run make build
cat >"$dir/binlake.yaml" <<EOF
# The demo's config (binlake init writes one like it for your database).
source:
  name: shop
  host: 127.0.0.1
  port: $port
  user: binlake
  server_id: 4242         # binlake's replica id: unique among the source's replicas
  # password: from BINLAKE_SOURCE_PASSWORD
warehouse:
  url: file://$dir/warehouse
ingest:
  commit_interval: 500ms
  listen: 127.0.0.1:$ops_port   # /metrics, /healthz, /readyz, /status (binlake status asks it)
query:
  cache_dir: $dir/cache
log:
  level: warn     # binlake ingest logs to logs/ingest.log; info shows every commit
EOF
export BINLAKE_SOURCE_PASSWORD=$password
printf '%s' "$password" >"$dir/run/password"
chmod 600 "$dir/run/password"
run "$binlake" check -c "$dir/binlake.yaml"

say "4/7 binlake ingest: the initial snapshot, then the binlog (log: $dir/logs/ingest.log)"
nohup "$binlake" ingest -c "$dir/binlake.yaml" >"$dir/logs/ingest.log" 2>&1 &
echo $! >"$dir/run/ingest.pid"
for _ in $(seq 150); do
	"$binlake" query -c "$dir/binlake.yaml" --format csv "SELECT count(*) FROM shop.orders" 2>/dev/null | grep -qx 500 && break
	kill -0 "$(cat "$dir/run/ingest.pid")" 2>/dev/null || { echo "demo: binlake ingest stopped; see $dir/logs/ingest.log" >&2; tail -5 "$dir/logs/ingest.log" >&2; exit 1; }
	sleep 0.2
done
run "$binlake" tables -c "$dir/binlake.yaml"

say "5/7 A stream of orders, payments, shipments and cancellations for ${seconds}s"
# One transaction every ~50 ms: a new order; some orders paid, shipped
# (with the customer moving city now and then), cancelled or deleted.
minute_ago=""
start=$(date +%s)
n=0
while (( $(date +%s) - start < seconds )); do
	n=$((n + 1))
	c=$((1 + RANDOM % 6))
	case $((RANDOM % 10)) in
	0 | 1 | 2 | 3) stmt="INSERT INTO orders (customer_id, sku, qty, total, placed_at) SELECT $c, sku, 1 + $RANDOM % 3, price * (1 + $RANDOM % 3), NOW(3) FROM products ORDER BY RAND() LIMIT 1" ;;
	4 | 5) stmt="UPDATE orders SET status = 'paid' WHERE status = 'new' ORDER BY RAND() LIMIT 2" ;;
	6) stmt="UPDATE orders SET status = 'shipped' WHERE status = 'paid' ORDER BY id LIMIT 3; UPDATE customers SET city = ELT(1 + $RANDOM % 4, 'Paris','Oslo','Lisbon','Turin') WHERE id = $c" ;;
	7) stmt="UPDATE orders SET status = 'cancelled' WHERE status IN ('new','paid') ORDER BY RAND() LIMIT 1" ;;
	8) stmt="DELETE FROM orders WHERE status = 'cancelled' ORDER BY id LIMIT 1" ;;
	9) stmt="UPDATE products SET price = price * 1.01 WHERE sku = 'PEN-0004'" ;;
	esac
	sql shop -e "START TRANSACTION; $stmt; COMMIT;"
	# "A minute ago": a minute before the end (a third of the way in, for
	# short runs).
	mark=$((seconds >= 75 ? seconds - 60 : seconds / 3))
	if [[ -z $minute_ago ]] && (( $(date +%s) - start >= mark )); then
		minute_ago=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		echo "  (the earlier point: $minute_ago)"
	fi
	sleep 0.05
done
echo "$n transactions"
sleep 1.5 # one group commit

say "6/7 binlake compact: fold the deltas into snapshots"
run "$binlake" compact -c "$dir/binlake.yaml" --force
run "$binlake" log -c "$dir/binlake.yaml" --tail 5

say "7/7 What binlake is for: the same question now and a minute ago"
q="SELECT status, count(*) AS orders, sum(total) AS revenue FROM shop.orders GROUP BY status ORDER BY status"
run "$binlake" query -c "$dir/binlake.yaml" "$q"
run "$binlake" query -c "$dir/binlake.yaml" --as-of "$minute_ago" "$q"
echo
echo "The orders whose status changed in that minute, from the change feed:"
run "$binlake" query -c "$dir/binlake.yaml" "SELECT _binlake_op AS op, _binlake_ts AS changed_at, id, status, total
  FROM shop.orders_changes(binlake_seq(TIMESTAMPTZ '$minute_ago'), binlake_seq(now()))
  WHERE _binlake_op <> 'insert' ORDER BY _binlake_seq DESC LIMIT 10"
echo
echo "And who moved, comparing two points in one statement:"
run "$binlake" query -c "$dir/binlake.yaml" "SELECT now.id, now.name, before.city AS was, now.city AS is
  FROM shop.customers now JOIN shop.customers(binlake_seq(TIMESTAMPTZ '$minute_ago')) before USING (id)
  WHERE now.city IS DISTINCT FROM before.city ORDER BY id"

cat <<EOF

== The demo keeps running. Explore (in $here):
  export BINLAKE_SOURCE_PASSWORD=\$(cat $dir/run/password)
  $binlake query  -c $dir/binlake.yaml "SELECT * FROM shop.orders ORDER BY id DESC LIMIT 5"
  $binlake query  -c $dir/binlake.yaml --as-of $minute_ago "SELECT count(*) FROM shop.orders"
  $binlake query  -c $dir/binlake.yaml                   (interactive, on a terminal)
  $binlake log    -c $dir/binlake.yaml --tail 10
  $binlake tables -c $dir/binlake.yaml
  $binlake status -c $dir/binlake.yaml                   (the daemon: position, lag, last commit; rows per table)
  $client --defaults-file=$dir/my.cnf --user=root shop   (change the source, then query again)
  docs: docs/query.md, docs/compaction.md, docs/operations.md, docs/cli.md
Stop everything and remove the demo: make demo-clean
EOF
