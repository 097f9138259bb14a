//! The AWS Price List Query API: Fargate's prices in a region, from GetProducts (service code
//! `AmazonECS`). SDK types stay in here.
//!
//! GetProducts answers `PriceList`, a list of JSON *strings*, each one product of the offer
//! file: `product.attributes` (`regionCode`, `usagetype`, ...) and
//! `terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`. Fargate's usage types are
//! `<region prefix>-Fargate-vCPU-Hours:perCPU`, `-Fargate-GB-Hours`, their `-Fargate-ARM-`
//! twins, and `-Fargate-EphemeralStorage-GB-Hours` (the prefix is the billing code of the
//! region: `USE1`, `EU` for eu-west-1, `EUC1`...). Fargate Spot is not in the Price List.

use aws_sdk_pricing::types::{Filter, FilterType};
use aws_sdk_pricing::Client;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::price::{FargatePrices, Rates};

/// The Price List's code for ECS, Fargate included.
pub const SERVICE_CODE: &str = "AmazonECS";

/// The regions that serve the Price List Query API (AWS Billing User Guide, "Price List
/// endpoints"); any of them answers for every region's prices.
pub const ENDPOINT_REGIONS: [&str; 3] = ["us-east-1", "eu-central-1", "ap-south-1"];

/// The Price List endpoint nearest a function in `region`: Frankfurt for Europe, the Middle
/// East and Africa, Mumbai for Asia Pacific, N. Virginia otherwise.
pub fn endpoint_region(region: &str) -> &'static str {
    if ["eu-", "me-", "af-", "il-"]
        .iter()
        .any(|p| region.starts_with(p))
    {
        ENDPOINT_REGIONS[1]
    } else if region.starts_with("ap-") {
        ENDPOINT_REGIONS[2]
    } else {
        ENDPOINT_REGIONS[0]
    }
}

/// At most this many pages of 100 products are read for one region (a region's ECS offer
/// holds a few dozen): a runaway NextToken cannot hold the tick.
const MAX_PAGES: usize = 5;

/// Fargate's prices in `region`: every `AmazonECS` product of the region (GetProducts filtered
/// on `regionCode`, 100 a page), read by usage type.
pub async fn fargate_prices(client: &Client, region: &str) -> Result<FargatePrices> {
    let filter = Filter::builder()
        .r#type(FilterType::TermMatch)
        .field("regionCode")
        .value(region)
        .build()
        .map_err(|e| Error::invariant(format!("a GetProducts filter: {e}")))?;
    let mut items: Vec<String> = vec![];
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = client
            .get_products()
            .service_code(SERVICE_CODE)
            .filters(filter.clone())
            .format_version("aws_v1")
            .max_results(100)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| Error::aws("GetProducts", e))?;
        items.extend(out.price_list().iter().cloned());
        match out.next_token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => break,
        }
    }
    parse_fargate(region, &items)
}

/// What a usage type prices, its region prefix (`USE1-`, `EU-`) taken off.
fn usage_kind(usagetype: &str) -> &str {
    match usagetype.split_once('-') {
        Some((prefix, rest))
            if !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) =>
        {
            rest
        }
        _ => usagetype,
    }
}

/// The on-demand USD price of one product (the first price dimension that has one).
fn on_demand_usd(product: &Value) -> Option<f64> {
    product
        .get("terms")?
        .get("OnDemand")?
        .as_object()?
        .values()
        .filter_map(|term| term.get("priceDimensions")?.as_object())
        .flat_map(|dims| dims.values())
        .filter_map(|d| d.get("pricePerUnit")?.get("USD")?.as_str())
        .find_map(|usd| usd.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p >= 0.0)
}

/// Reads Fargate's Linux prices out of GetProducts' `PriceList` for `region`. Products of other
/// regions and usage types are ignored; a price missing (vCPU or GB, x86 or ARM, ephemeral
/// storage) or an item that is not JSON is an error naming it.
pub fn parse_fargate(region: &str, price_list: &[String]) -> Result<FargatePrices> {
    let unexpected = |detail: String| Error::UnexpectedResponse {
        operation: "GetProducts",
        detail,
    };
    let mut found: std::collections::BTreeMap<&'static str, f64> = Default::default();
    const KINDS: [&str; 9] = [
        "Fargate-vCPU-Hours:perCPU",
        "Fargate-GB-Hours",
        "Fargate-ARM-vCPU-Hours:perCPU",
        "Fargate-ARM-GB-Hours",
        "Fargate-EphemeralStorage-GB-Hours",
        "SpotUsage-Fargate-vCPU-Hours:perCPU",
        "SpotUsage-Fargate-GB-Hours",
        "SpotUsage-Fargate-ARM-vCPU-Hours:perCPU",
        "SpotUsage-Fargate-ARM-GB-Hours",
    ];
    for (i, item) in price_list.iter().enumerate() {
        let product: Value = serde_json::from_str(item)
            .map_err(|e| unexpected(format!("PriceList[{i}] is not a JSON product: {e}")))?;
        let attributes = product.get("product").and_then(|p| p.get("attributes"));
        let attr = |name: &str| {
            attributes
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if attr("regionCode") != region {
            continue;
        }
        let kind = usage_kind(attr("usagetype"));
        let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
            continue;
        };
        if let Some(price) = on_demand_usd(&product) {
            found.entry(kind).or_insert(price);
        }
    }
    let get = |kind: &'static str| {
        found.get(kind).copied().ok_or_else(|| {
            unexpected(format!(
                "no {SERVICE_CODE} price for usage type *-{kind} in {region}"
            ))
        })
    };
    let spot = |vcpu: &'static str, gb: &'static str| match (found.get(vcpu), found.get(gb)) {
        (Some(&vcpu_hour), Some(&gb_hour)) => Some(Rates { vcpu_hour, gb_hour }),
        _ => None,
    };
    Ok(FargatePrices {
        x86: Rates {
            vcpu_hour: get(KINDS[0])?,
            gb_hour: get(KINDS[1])?,
        },
        arm: Rates {
            vcpu_hour: get(KINDS[2])?,
            gb_hour: get(KINDS[3])?,
        },
        storage_gb_hour: get(KINDS[4])?,
        spot_x86: spot(KINDS[5], KINDS[6]),
        spot_arm: spot(KINDS[7], KINDS[8]),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::fake_http::{pricing_client, Scripted};

    /// One product of the Price List, as GetProducts returns it: a JSON document in a string.
    fn product(region: &str, usagetype: &str, usd: &str) -> String {
        let sku = format!("SKU{}", usagetype.len());
        json!({
            "product": {
                "productFamily": "Compute",
                "attributes": {
                    "servicecode": "AmazonECS",
                    "regionCode": region,
                    "location": "US East (N. Virginia)",
                    "locationType": "AWS Region",
                    "usagetype": usagetype,
                    "operation": "",
                    "servicename": "Amazon Elastic Container Service",
                    "tenancy": "Shared"
                },
                "sku": sku
            },
            "serviceCode": "AmazonECS",
            "terms": {
                "OnDemand": {
                    format!("{sku}.JRTCKXETXF"): {
                        "priceDimensions": {
                            format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                                "unit": "hours",
                                "endRange": "Inf",
                                "description": "AWS Fargate",
                                "appliesTo": [],
                                "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd}
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {}
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z"
        })
        .to_string()
    }

    /// us-east-1's Fargate products, with others of ECS (ECS Anywhere, Windows) among them.
    fn use1() -> Vec<String> {
        vec![
            product(
                "us-east-1",
                "USE1-ECS-Anywhere-Instance-hours",
                "0.0102500000",
            ),
            product(
                "us-east-1",
                "USE1-Fargate-vCPU-Hours:perCPU",
                "0.0404800000",
            ),
            product("us-east-1", "USE1-Fargate-GB-Hours", "0.0044450000"),
            product(
                "us-east-1",
                "USE1-Fargate-Windows-vCPU-Hours:perCPU",
                "0.0914800000",
            ),
            product(
                "us-east-1",
                "USE1-Fargate-ARM-vCPU-Hours:perCPU",
                "0.0323800000",
            ),
            product("us-east-1", "USE1-Fargate-ARM-GB-Hours", "0.0035600000"),
            product(
                "us-east-1",
                "USE1-Fargate-EphemeralStorage-GB-Hours",
                "0.0001110000",
            ),
        ]
    }

    fn page(items: &[String], next: Option<&str>) -> (u16, String) {
        let mut body = json!({"FormatVersion": "aws_v1", "PriceList": items});
        if let Some(n) = next {
            body["NextToken"] = json!(n);
        }
        (200, body.to_string())
    }

    #[test]
    fn the_prices_are_read_by_usage_type_whatever_the_region_prefix() {
        let p = parse_fargate("us-east-1", &use1()).expect("prices");
        assert_eq!(
            p.x86,
            Rates {
                vcpu_hour: 0.04048,
                gb_hour: 0.004445
            }
        );
        assert_eq!(
            p.arm,
            Rates {
                vcpu_hour: 0.03238,
                gb_hour: 0.00356
            }
        );
        assert_eq!(p.storage_gb_hour, 0.000111);
        assert_eq!(
            (p.spot_x86, p.spot_arm),
            (None, None),
            "Spot is not in the Price List"
        );
        // eu-west-1's prefix is EU-, and an unprefixed usage type is read too.
        let euw1: Vec<String> = use1()
            .iter()
            .map(|p| p.replace("us-east-1", "eu-west-1").replace("USE1-", "EU-"))
            .collect();
        assert_eq!(
            parse_fargate("eu-west-1", &euw1)
                .expect("eu-west-1")
                .x86
                .vcpu_hour,
            0.04048
        );
        let bare: Vec<String> = use1().iter().map(|p| p.replace("USE1-", "")).collect();
        assert_eq!(
            parse_fargate("us-east-1", &bare).expect("bare").arm.gb_hour,
            0.00356
        );
    }

    #[test]
    fn another_regions_products_and_a_missing_price_are_not_taken_for_fargates() {
        let mut list = use1();
        list.insert(
            0,
            product(
                "eu-central-1",
                "EUC1-Fargate-vCPU-Hours:perCPU",
                "0.0465600000",
            ),
        );
        assert_eq!(
            parse_fargate("us-east-1", &list)
                .expect("prices")
                .x86
                .vcpu_hour,
            0.04048
        );
        let no_arm: Vec<String> = use1()
            .into_iter()
            .filter(|p| !p.contains("ARM-GB"))
            .collect();
        let e = parse_fargate("us-east-1", &no_arm).unwrap_err().to_string();
        assert!(
            e.contains("Fargate-ARM-GB-Hours") && e.contains("us-east-1"),
            "{e}"
        );
        let e = parse_fargate("us-east-1", &["not json".to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PriceList[0]"), "{e}");
    }

    #[test]
    fn spot_is_read_when_the_price_list_publishes_it() {
        let mut list = use1();
        list.push(product(
            "us-east-1",
            "USE1-SpotUsage-Fargate-ARM-vCPU-Hours:perCPU",
            "0.0100000000",
        ));
        list.push(product(
            "us-east-1",
            "USE1-SpotUsage-Fargate-ARM-GB-Hours",
            "0.0010000000",
        ));
        let p = parse_fargate("us-east-1", &list).expect("prices");
        assert_eq!(
            p.spot_arm,
            Some(Rates {
                vcpu_hour: 0.01,
                gb_hour: 0.001
            })
        );
        assert_eq!(p.spot_x86, None);
        // Spot's usage type is not taken for on-demand's.
        assert_eq!(p.arm.vcpu_hour, 0.03238);
    }

    #[tokio::test]
    async fn get_products_asks_for_ecs_in_the_region_and_follows_next_token() {
        let all = use1();
        let (first, rest) = all.split_at(3);
        let http = Scripted::new(vec![page(first, Some("page-2")), page(rest, None)]);
        let client = pricing_client(&http);
        let p = fargate_prices(&client, "us-east-1").await.expect("prices");
        assert_eq!(p.x86.gb_hour, 0.004445);
        assert_eq!(http.requests(), 2);
        let bodies = http.bodies();
        let request: Value = serde_json::from_str(&bodies[0]).expect("a JSON request");
        assert_eq!(request["ServiceCode"], "AmazonECS");
        assert_eq!(
            request["Filters"],
            json!([{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}])
        );
        assert_eq!(request["MaxResults"], 100);
        let second: Value = serde_json::from_str(&bodies[1]).expect("a JSON request");
        assert_eq!(second["NextToken"], "page-2");
    }

    #[tokio::test]
    async fn access_denied_is_an_aws_error_that_is_not_retried() {
        let http = Scripted::new(vec![(
            400,
            r#"{"__type":"AccessDeniedException","Message":"User is not authorized to perform: pricing:GetProducts"}"#.into(),
        )]);
        let e = fargate_prices(&pricing_client(&http), "us-east-1")
            .await
            .unwrap_err();
        assert_eq!(e.aws_code(), Some("AccessDeniedException"), "{e:?}");
        assert_eq!(http.requests(), 1);
    }

    #[test]
    fn the_endpoint_is_the_nearest_price_list_region() {
        for (region, endpoint) in [
            ("us-east-1", "us-east-1"),
            ("us-west-2", "us-east-1"),
            ("sa-east-1", "us-east-1"),
            ("eu-west-1", "eu-central-1"),
            ("il-central-1", "eu-central-1"),
            ("me-south-1", "eu-central-1"),
            ("ap-southeast-2", "ap-south-1"),
            ("", "us-east-1"),
        ] {
            assert_eq!(endpoint_region(region), endpoint, "{region}");
            assert!(ENDPOINT_REGIONS.contains(&endpoint));
        }
    }
}
