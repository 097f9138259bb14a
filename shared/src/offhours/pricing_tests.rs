//! Decision tables for the pricing: what one service's night saves, to the cent.

use std::collections::BTreeMap;

use super::*;
use crate::capacity::Restore;
use crate::model::service::ProviderShare;
use crate::offhours::plan::{self, Action, Planned};

/// The Price List's answer for us-east-1 and eu-west-1 (one price, as AWS publishes it).
fn listed() -> FargatePrices {
    FargatePrices {
        x86: rates(0.04048, 0.004445),
        arm: rates(0.03238, 0.00356),
        spot_x86: None,
        spot_arm: None,
        storage_gb_hour: 0.000111,
    }
}

fn service(region: &str, name: &str, td: &str) -> ServiceSnapshot {
    ServiceSnapshot {
        cluster: "dev".into(),
        name: name.into(),
        arn: format!("arn:aws:ecs:{region}:123456789012:service/dev/{name}"),
        status: "ACTIVE".into(),
        task_definition: td.into(),
        ..ServiceSnapshot::default()
    }
}

fn spot(mut s: ServiceSnapshot) -> ServiceSnapshot {
    s.capacity_providers = vec![ProviderShare {
        provider: FARGATE_SPOT.into(),
        base: 0,
        weight: 1,
    }];
    s
}

fn asleep(s: ServiceSnapshot, desired: i32) -> (ServiceSnapshot, Planned) {
    let p = Planned {
        cluster: s.cluster.clone(),
        service: s.name.clone(),
        action: Action::Sleep,
        reason: String::new(),
        restore: Some(Restore {
            desired,
            min: None,
            max: None,
            suspended: None,
        }),
        resume: false,
        error: None,
    };
    (s, p)
}

fn size(vcpu: f64, gb: f64, arch: Arch, storage_gib: f64) -> TaskSize {
    TaskSize {
        vcpu,
        gb,
        arch,
        storage_gib,
    }
}

fn by_region(entries: &[(&str, Priced)]) -> BTreeMap<String, Priced> {
    entries
        .iter()
        .map(|(r, p)| (r.to_string(), p.clone()))
        .collect()
}

#[test]
fn a_spot_arm_service_in_eu_west_1_and_an_x86_on_demand_one_in_us_east_1_save_different_correct_amounts(
) {
    let sizes = BTreeMap::from([
        ("td/x86".to_string(), size(1.0, 2.0, Arch::X86, 20.0)),
        ("td/arm".to_string(), size(1.0, 2.0, Arch::Arm, 20.0)),
    ]);
    let prices = by_region(&[
        ("us-east-1", Priced::listed(listed())),
        ("eu-west-1", Priced::listed(listed())),
    ]);
    let x86 = asleep(service("us-east-1", "api", "td/x86"), 2);
    let arm_spot = asleep(spot(service("eu-west-1", "batch", "td/arm")), 2);
    // 2 tasks x 10 h x (1 vCPU x 0.04048 + 2 GB x 0.004445) = 0.9874
    assert_eq!(
        plan::savings(std::slice::from_ref(&x86), &sizes, |_| 10.0, &prices),
        0.99
    );
    // 2 tasks x 10 h x 30% x (1 vCPU x 0.03238 + 2 GB x 0.00356) = 0.2370
    assert_eq!(
        plan::savings(std::slice::from_ref(&arm_spot), &sizes, |_| 10.0, &prices),
        0.24
    );
    // Together, summed before rounding: 1.2244.
    assert_eq!(
        plan::savings(&[x86, arm_spot], &sizes, |_| 10.0, &prices),
        1.22
    );
}

#[test]
fn each_service_sleeps_its_own_hours_and_the_same_hours_give_what_one_price_gave() {
    let sizes = BTreeMap::from([("td".to_string(), size(0.5, 1.0, Arch::X86, 20.0))]);
    let prices = by_region(&[("us-east-1", Priced::listed(listed()))]);
    let planned = [
        asleep(service("us-east-1", "web", "td"), 2),
        asleep(service("us-east-1", "api", "td"), 2),
    ];
    // The old estimate: 4 tasks x 9 h x (0.5 x 0.04048 + 1 x 0.004445) = 0.88866.
    assert_eq!(plan::savings(&planned, &sizes, |_| 9.0, &prices), 0.89);
    // web asleep 9 h, api 33 h (a weekend's Friday night): 2 x 0.024685 x 42 = 2.07354.
    let hours = |s: &ServiceSnapshot| if s.name == "web" { 9.0 } else { 33.0 };
    assert_eq!(plan::savings(&planned, &sizes, hours, &prices), 2.07);
}

#[test]
fn ephemeral_storage_is_billed_above_the_free_20_gb_only() {
    let prices = by_region(&[("us-east-1", Priced::listed(listed()))]);
    let planned = [asleep(service("us-east-1", "web", "td"), 1)];
    // 0.25 vCPU, 0.5 GB for 24 h: 24 x (0.01012 + 0.0022225) = 0.29622, plus storage.
    for (storage, saved) in [
        (20.0, 0.30),  // the free 20 GB: nothing more
        (21.0, 0.30),  // 1 GB x 0.000111 x 24 = 0.002664: 0.298884
        (120.0, 0.56), // 100 GB x 0.000111 x 24 = 0.2664: 0.56262
        (200.0, 0.78), // 180 GB: 0.47952: 0.77574
    ] {
        let sizes = BTreeMap::from([("td".to_string(), size(0.25, 0.5, Arch::X86, storage))]);
        assert_eq!(
            plan::savings(&planned, &sizes, |_| 24.0, &prices),
            saved,
            "{storage} GiB"
        );
    }
}

#[test]
fn hours_asleep_count_to_the_second() {
    let sizes = BTreeMap::from([("td".to_string(), size(4.0, 8.0, Arch::X86, 20.0))]);
    let prices = by_region(&[("us-east-1", Priced::listed(listed()))]);
    let planned = [asleep(service("us-east-1", "web", "td"), 10)];
    // 10 tasks x (4 x 0.04048 + 8 x 0.004445) = 1.9748 an hour.
    for (seconds, saved) in [
        (8 * 3600 - 1, 15.80),  // 7 h 59 min 59 s: 15.79785
        (8 * 3600 - 60, 15.77), // 7 h 59 min: 15.76549
        (7 * 3600, 13.82),      // 13.8236
        (1, 0.0),               // one second: half a thousandth of a dollar
    ] {
        let hours = f64::from(seconds) / 3600.0;
        assert_eq!(
            plan::savings(&planned, &sizes, |_| hours, &prices),
            saved,
            "{seconds} s"
        );
    }
}

#[test]
fn tasks_are_placed_as_ecs_places_them_and_only_fargate_tasks_count() {
    let share = |provider: &str, base: i32, weight: i32| ProviderShare {
        provider: provider.into(),
        base,
        weight,
    };
    let with = |launch: Option<&str>, providers: Vec<ProviderShare>| ServiceSnapshot {
        launch_type: launch.map(str::to_string),
        capacity_providers: providers,
        ..ServiceSnapshot::default()
    };
    let cases: Vec<(ServiceSnapshot, i32, (f64, f64))> = vec![
        (with(None, vec![]), 3, (3.0, 0.0)),
        (with(Some("FARGATE"), vec![]), 3, (3.0, 0.0)),
        (with(Some("EC2"), vec![]), 3, (0.0, 0.0)),
        (with(Some("EXTERNAL"), vec![]), 3, (0.0, 0.0)),
        (with(None, vec![share(FARGATE_SPOT, 0, 1)]), 4, (0.0, 4.0)),
        // One on demand first, the other four 1:3.
        (
            with(None, vec![share(FARGATE, 1, 1), share(FARGATE_SPOT, 0, 3)]),
            5,
            (2.0, 3.0),
        ),
        // Fewer tasks than the base: all on the base's provider.
        (
            with(None, vec![share(FARGATE, 2, 1), share(FARGATE_SPOT, 0, 3)]),
            1,
            (1.0, 0.0),
        ),
        (
            with(None, vec![share(FARGATE, 1, 1), share(FARGATE_SPOT, 0, 3)]),
            0,
            (0.0, 0.0),
        ),
        // An Auto Scaling group's provider: its share is not Fargate's.
        (
            with(
                None,
                vec![share("asg-provider", 0, 1), share(FARGATE_SPOT, 0, 1)],
            ),
            4,
            (0.0, 2.0),
        ),
    ];
    for (s, n, expected) in cases {
        assert_eq!(
            fargate_tasks(&s, n),
            expected,
            "{:?} {:?} x{n}",
            s.launch_type,
            s.capacity_providers
        );
    }
}

#[test]
fn a_service_on_ec2_saves_no_fargate_money() {
    let sizes = BTreeMap::from([("td".to_string(), size(1.0, 2.0, Arch::X86, 20.0))]);
    let prices = by_region(&[("us-east-1", Priced::listed(listed()))]);
    let mut s = service("us-east-1", "web", "td");
    s.launch_type = Some("EC2".into());
    assert_eq!(
        plan::savings(&[asleep(s, 4)], &sizes, |_| 10.0, &prices),
        0.0
    );
}

#[test]
fn spot_is_priced_as_published_when_the_source_has_it_else_estimated() {
    let mut p = listed();
    assert_eq!(
        spot_rates(&p, Arch::Arm),
        (rates(0.03238 * 0.3, 0.00356 * 0.3), true)
    );
    p.spot_arm = Some(rates(0.01, 0.001));
    assert_eq!(spot_rates(&p, Arch::Arm), (rates(0.01, 0.001), false));
    assert!(spot_rates(&p, Arch::X86).1, "x86 still estimated");
}

#[test]
fn the_compiled_in_prices_cover_a_region_or_stand_in_from_us_east_1() {
    for (region, of, vcpu) in [
        ("us-east-1", "us-east-1", 0.04048),
        ("eu-west-1", "eu-west-1", 0.04048),
        ("eu-central-1", "eu-central-1", 0.04656),
        ("ap-southeast-2", "us-east-1", 0.04048),
        ("", "us-east-1", 0.04048),
    ] {
        let p = Priced::compiled_in(region);
        assert_eq!(p.source, Source::CompiledIn { of: of.into() }, "{region}");
        assert_eq!(p.prices.x86.vcpu_hour, vcpu, "{region}");
        assert!(
            p.prices.arm.vcpu_hour < p.prices.x86.vcpu_hour
                && p.prices.arm.gb_hour < p.prices.x86.gb_hour,
            "{region}: ARM costs less"
        );
    }
}

#[test]
fn the_basis_says_where_each_price_came_from_and_that_spot_is_an_estimate() {
    let x86 = size(1.0, 2.0, Arch::X86, 20.0);
    let arm = size(1.0, 2.0, Arch::Arm, 20.0);
    let use1 = service("us-east-1", "api", "td");
    let euw1_spot = spot(service("eu-west-1", "batch", "td"));
    let apse2 = service("ap-southeast-2", "web", "td");
    let mut ec2 = service("eu-central-1", "legacy", "td");
    ec2.launch_type = Some("EC2".into());
    let priced = by_region(&[
        ("us-east-1", Priced::listed(listed())),
        ("eu-west-1", Priced::compiled_in("eu-west-1")),
        ("ap-southeast-2", Priced::compiled_in("ap-southeast-2")),
        ("eu-central-1", Priced::compiled_in("eu-central-1")),
    ]);
    assert_eq!(
        basis([(&use1, 2, x86)], &priced),
        ["Priced from the AWS Price List API (us-east-1)."]
    );
    assert_eq!(
        basis([(&use1, 2, x86), (&euw1_spot, 2, arm), (&apse2, 1, x86), (&ec2, 1, x86)], &priced),
        [
            "Priced from the AWS Price List API (us-east-1).".to_string(),
            format!("Priced from compiled-in prices of {COMPILED_IN_DATE} (ap-southeast-2 at us-east-1's, none being compiled in for it; eu-west-1): the AWS Price List API could not be read."),
            "Fargate Spot: an estimate at 30% of the on-demand price (AWS publishes Spot as up to 70% off; its price varies and is not in the Price List).".to_string(),
        ]
    );
    // A Spot service put to sleep with no task: nothing priced at Spot, nothing to say of it.
    assert_eq!(basis([(&euw1_spot, 0, arm)], &priced), Vec::<String>::new());
}
