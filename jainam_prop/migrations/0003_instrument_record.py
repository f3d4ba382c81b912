"""The instrument record: master fields a pre-trade check needs (freeze quantity, price band,
multiplier), the ISIN of cash rows and the underlying token of derivatives."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jainam_prop", "0002_admin_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="symboltoken",
            name="freeze_qty",
            field=models.BigIntegerField(
                blank=True,
                help_text="XTS FreezeQty: an order of this quantity or more is over the exchange's per-order limit (empty: no limit)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="symboltoken",
            name="isin",
            field=models.CharField(
                blank=True, help_text="ISIN (cash rows)", max_length=12, null=True
            ),
        ),
        migrations.AddField(
            model_name="symboltoken",
            name="multiplier",
            field=models.IntegerField(
                db_default=1, default=1, help_text="XTS Multiplier (NSECD: 1000, ...)"
            ),
        ),
        migrations.AddField(
            model_name="symboltoken",
            name="price_band_high",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="XTS PriceBand.High at download time",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="symboltoken",
            name="price_band_low",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="XTS PriceBand.Low at download time",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="symboltoken",
            name="underlying_token",
            field=models.BigIntegerField(
                blank=True,
                help_text="XTS UnderlyingInstrumentId (F&O; empty for indices)",
                null=True,
            ),
        ),
    ]
