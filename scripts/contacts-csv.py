"""Writes a customer directory import of ROWS contacts to PATH, as a reseller's export would look (a header row,
a quoted name holding a comma, every column): for the import benchmarks.
    python3 scripts/contacts-csv.py ROWS PATH
"""
import sys

rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("provider,iccid,esim_ref,order_ref,name,phone,email,locale,time_zone,customer_id,topup_url,channels\n")
    for i in range(rows):
        f.write(f"esimaccess,{8900000000000000000 + i},T{i},tx-{i},\"Customer, {i}\",+346{i:08d},c{i}@example.es,es,"
                f"Europe/Madrid,c-{i},https://shop.example/t/{i},sms|email\n")
