//! When services are awake: `ON_HOURS` windows in a timezone, minus `HOLIDAYS`. Pure.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday,
};

/// One on-hours window: on these weekdays, from `start` to `end` (an end at or before the start
/// runs past midnight into the next day).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    /// `None` means midnight at the end of the day (`24:00`).
    pub end: Option<NaiveTime>,
}

impl Window {
    fn overnight(&self) -> bool {
        self.end.is_some_and(|e| e <= self.start)
    }
}

/// The whole calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub windows: Vec<Window>,
    pub tz: Zone,
    pub holidays: Vec<NaiveDate>,
}

/// An IANA time zone, from the time-zone database compiled into the binary (jiff's bundled
/// tzdb: one blob of TZif data and a name index, where chrono-tz's tables of pointers made
/// off-hours' executable carry some 31,000 more relocations for the loader to apply at start).
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

/// A local date and time as instants: one, two (a fold, the earlier first), or none (a gap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    Single(DateTime<Utc>),
    Fold(DateTime<Utc>, DateTime<Utc>),
    Gap,
}

impl Zone {
    /// A zone by its IANA name (`Europe/Berlin`, `UTC`); `None` for a name the database lacks.
    pub fn named(name: &str) -> Option<Zone> {
        let tz = jiff::tz::TimeZone::get(name).ok()?;
        Some(Zone {
            name: tz.iana_name().unwrap_or(name).to_string(),
            tz,
        })
    }

    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC at `at`, in seconds.
    fn offset_at(&self, at: DateTime<Utc>) -> i64 {
        jiff::Timestamp::from_second(at.timestamp())
            .map(|ts| i64::from(self.tz.to_offset(ts).seconds()))
            .unwrap_or(0)
    }

    /// The local date and time at `at`.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.naive_utc() + Duration::seconds(self.offset_at(at))
    }

    /// The instants a local date and time names.
    pub fn instants(&self, local: NaiveDateTime) -> Local {
        use jiff::tz::AmbiguousOffset;
        let Ok(civil) = jiff::civil::DateTime::new(
            local.year() as i16,
            local.month() as i8,
            local.day() as i8,
            local.hour() as i8,
            local.minute() as i8,
            local.second() as i8,
            0,
        ) else {
            return Local::Gap;
        };
        let at = |offset: jiff::tz::Offset| {
            (local - Duration::seconds(i64::from(offset.seconds()))).and_utc()
        };
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => Local::Single(at(offset)),
            AmbiguousOffset::Fold { before, after } => Local::Fold(at(before), at(after)),
            AmbiguousOffset::Gap { .. } => Local::Gap,
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn day(s: &str) -> Result<Weekday, String> {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let key = s.trim().to_ascii_lowercase();
    DAYS.iter()
        .zip(FULL)
        .find(|((abbr, _), full)| key == *abbr || key == *full)
        .map(|((_, d), _)| *d)
        .ok_or_else(|| format!("{s:?} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
}

fn days(spec: &str) -> Result<Vec<Weekday>, String> {
    let mut out = vec![];
    for part in spec.split([',', '+']) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut d, end) = (day(a)?, day(b)?);
                loop {
                    if !out.contains(&d) {
                        out.push(d);
                    }
                    if d == end {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => {
                let d = day(part)?;
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    Ok(out)
}

fn time(s: &str) -> Result<Option<NaiveTime>, String> {
    let s = s.trim();
    if s == "24:00" {
        return Ok(None);
    }
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not a time (HH:MM)"))?;
    let (h, m): (u32, u32) = (
        h.parse()
            .map_err(|_| format!("{s:?} is not a time (HH:MM)"))?,
        m.parse()
            .map_err(|_| format!("{s:?} is not a time (HH:MM)"))?,
    );
    NaiveTime::from_hms_opt(h, m, 0)
        .map(Some)
        .filter(|_| m < 60 && h < 24 && s.len() == 5)
        .ok_or_else(|| format!("{s:?} is not a 24-hour time (00:00 to 23:59, or 24:00 as an end)"))
}

/// Parses `Mon-Fri 07:00-19:00; Sat 09:00-12:00`. Windows are separated by `;` or, where `;`
/// cannot be written (an ECS tag value allows only letters, digits, spaces and `+ - = . _ : / @`),
/// by `/`; days by `,` or `+` (`Mon+Wed 08:00-12:00 / Sat 09:00-12:00`). The error names the
/// entry that is wrong.
pub fn parse_windows(spec: &str) -> Result<Vec<Window>, String> {
    let mut out = vec![];
    for entry in spec
        .split([';', '/'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let bad = |why: String| format!("entry {entry:?}: {why}");
        let (d, t) = entry
            .rsplit_once(' ')
            .ok_or_else(|| bad("expected DAYS HH:MM-HH:MM, e.g. Mon-Fri 07:00-19:00".into()))?;
        let (start, end) = t
            .split_once('-')
            .ok_or_else(|| bad(format!("{t:?} is not HH:MM-HH:MM")))?;
        let start = time(start)
            .map_err(&bad)?
            .ok_or_else(|| bad("a window cannot start at 24:00".into()))?;
        let end = time(end).map_err(&bad)?;
        if end == Some(start) {
            return Err(bad(
                "start and end are the same: use 00:00-24:00 for a whole day".into(),
            ));
        }
        out.push(Window {
            days: days(d.trim()).map_err(&bad)?,
            start,
            end,
        });
    }
    if out.is_empty() {
        return Err("no window given, e.g. Mon-Fri 07:00-19:00".into());
    }
    Ok(out)
}

/// Parses `2026-12-24,2026-12-25` (also separated by spaces or `+`, as a tag value can be).
pub fn parse_holidays(spec: &str) -> Result<Vec<NaiveDate>, String> {
    spec.split(|c: char| c == ',' || c == '+' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
        })
        .collect()
}

/// One of a service's own schedule tags that off-hours cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadScheduleTag {
    pub tag: &'static str,
    pub value: String,
    pub problem: String,
}

impl Calendar {
    /// A service's calendar: the install's, with what the service's own tags say instead
    /// (`autopilot:off-hours-on`, `-timezone`, `-holidays`; each replaces its part, so a
    /// timezone alone keeps the install's hours in the service's zone). `None` when it has
    /// none of them. Every tag whose value cannot be used is named.
    pub fn for_service(
        &self,
        service_tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Calendar>, Vec<BadScheduleTag>> {
        use crate::tags::{OFF_HOURS_HOLIDAYS, OFF_HOURS_ON, OFF_HOURS_TIMEZONE};
        let on = service_tags.get(OFF_HOURS_ON);
        let tz = service_tags.get(OFF_HOURS_TIMEZONE);
        let holidays = service_tags.get(OFF_HOURS_HOLIDAYS);
        if on.is_none() && tz.is_none() && holidays.is_none() {
            return Ok(None);
        }
        let mut own = self.clone();
        let mut bad = vec![];
        let mut wrong = |tag: &'static str, value: &str, problem: String| {
            bad.push(BadScheduleTag {
                tag,
                value: value.to_string(),
                problem,
            })
        };
        if let Some(v) = on {
            match parse_windows(v) {
                Ok(w) => own.windows = w,
                Err(e) => wrong(
                    OFF_HOURS_ON,
                    v,
                    format!("{e} (windows like Mon-Fri 08:00-18:00, separated by /)"),
                ),
            }
        }
        if let Some(v) = tz {
            match Zone::named(v.trim()) {
                Some(z) => own.tz = z,
                None => wrong(
                    OFF_HOURS_TIMEZONE,
                    v,
                    "is not an IANA time zone, e.g. Europe/Berlin or America/Los_Angeles".into(),
                ),
            }
        }
        if let Some(v) = holidays {
            match parse_holidays(v) {
                Ok(h) => own.holidays = h,
                Err(e) => wrong(
                    OFF_HOURS_HOLIDAYS,
                    v,
                    format!("{e} (dates YYYY-MM-DD separated by spaces)"),
                ),
            }
        }
        if bad.is_empty() {
            Ok(Some(own))
        } else {
            Err(bad)
        }
    }

    /// Whether services should be awake at `now`.
    pub fn is_awake(&self, now: DateTime<Utc>) -> bool {
        let local = self.tz.local(now);
        let (date, t) = (local.date(), local.time());
        if self.holidays.contains(&date) {
            return false;
        }
        self.windows.iter().any(|w| {
            let today = w.days.contains(&date.weekday())
                && t >= w.start
                && (w.overnight() || w.end.is_none_or(|e| t < e));
            let from_yesterday = w.overnight()
                && w.end.is_some_and(|e| t < e)
                && date
                    .pred_opt()
                    .is_some_and(|y| w.days.contains(&y.weekday()) && !self.holidays.contains(&y));
            today || from_yesterday
        })
    }

    /// Whether `now` is the first tick after a boundary (the calendar turned awake or asleep
    /// within the last `tick`): the tick that announces what needs saying once per boundary.
    pub fn first_tick_after_boundary(&self, now: DateTime<Utc>, tick: Duration) -> bool {
        self.is_awake(now) != self.is_awake(now - tick)
    }

    /// The next moment the calendar turns awake after `now` (within two weeks).
    pub fn next_start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_date = self.tz.local(now).date();
        (0..15)
            .filter_map(|i| local_date.checked_add_signed(Duration::days(i)))
            .filter(|d| !self.holidays.contains(d))
            .flat_map(|d| {
                self.windows
                    .iter()
                    .filter(move |w| w.days.contains(&d.weekday()))
                    .filter_map(move |w| self.instant(d, w.start))
            })
            .filter(|t| *t > now)
            .min()
    }

    /// A local date and time as an instant; a time that a DST switch skips is moved past the gap.
    fn instant(&self, d: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
        let naive = d.and_time(t);
        let earliest = |local| match self.tz.instants(local) {
            Local::Single(at) | Local::Fold(at, _) => Some(at),
            Local::Gap => None,
        };
        earliest(naive).or_else(|| earliest(naive + Duration::hours(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(on: &str, tz: &str, holidays: &str) -> Calendar {
        Calendar {
            windows: parse_windows(on).unwrap(),
            tz: Zone::named(tz).unwrap(),
            holidays: parse_holidays(holidays).unwrap(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekday_ranges_lists_and_edges() {
        let c = cal("Mon-Fri 07:00-19:00", "UTC", "");
        assert!(c.is_awake(at("2026-11-16T07:00:00Z")), "Monday 07:00 is in");
        assert!(!c.is_awake(at("2026-11-16T06:59:00Z")));
        assert!(!c.is_awake(at("2026-11-16T19:00:00Z")), "the end is out");
        assert!(c.is_awake(at("2026-11-20T18:59:00Z")), "Friday");
        assert!(!c.is_awake(at("2026-11-21T12:00:00Z")), "Saturday");
        let c = cal("Mon,Wed 08:00-10:00; Fri 08:00-14:00", "UTC", "");
        assert!(c.is_awake(at("2026-11-18T09:00:00Z")), "Wednesday");
        assert!(!c.is_awake(at("2026-11-17T09:00:00Z")), "Tuesday");
        assert!(c.is_awake(at("2026-11-20T13:00:00Z")) && !c.is_awake(at("2026-11-20T15:00:00Z")));
        let c = cal("Sat-Mon 10:00-24:00", "UTC", "");
        assert!(
            c.is_awake(at("2026-11-22T23:59:00Z")),
            "Sunday, a range that wraps the week, until midnight"
        );
        assert!(!c.is_awake(at("2026-11-17T12:00:00Z")), "Tuesday");
    }

    #[test]
    fn overnight_ranges_run_past_midnight() {
        let c = cal("Fri 22:00-06:00", "UTC", "");
        assert!(c.is_awake(at("2026-11-20T23:00:00Z")), "Friday night");
        assert!(
            c.is_awake(at("2026-11-21T05:59:00Z")),
            "Saturday early, from Friday"
        );
        assert!(!c.is_awake(at("2026-11-21T06:00:00Z")));
        assert!(
            !c.is_awake(at("2026-11-20T05:00:00Z")),
            "Friday early belongs to Thursday, which has no window"
        );
    }

    #[test]
    fn holidays_sleep_all_day_in_the_calendar_timezone() {
        let c = cal(
            "Mon-Fri 07:00-19:00",
            "Europe/Berlin",
            "2026-12-24, 2026-12-25",
        );
        assert!(!c.is_awake(at("2026-12-24T10:00:00Z")));
        assert!(c.is_awake(at("2026-12-23T10:00:00Z")));
        // 2026-12-28 is a Monday; its start is 06:00 UTC in Berlin's winter.
        assert_eq!(
            c.next_start(at("2026-12-24T10:00:00Z")),
            Some(at("2026-12-28T06:00:00Z"))
        );
        let c = cal("Thu 22:00-06:00", "UTC", "2026-12-24");
        assert!(
            !c.is_awake(at("2026-12-25T02:00:00Z")),
            "a window that starts on a holiday does not run"
        );
    }

    #[test]
    fn berlin_daylight_saving_switches() {
        let c = cal("Mon-Fri 07:00-19:00", "Europe/Berlin", "");
        // Winter (CET, UTC+1) on Friday 2026-03-27; summer (CEST, UTC+2) from Sunday 2026-03-29.
        assert!(c.is_awake(at("2026-03-27T06:00:00Z")) && !c.is_awake(at("2026-03-27T05:59:00Z")));
        assert!(c.is_awake(at("2026-03-30T05:00:00Z")) && !c.is_awake(at("2026-03-30T04:59:00Z")));
        assert_eq!(
            c.next_start(at("2026-03-27T20:00:00Z")),
            Some(at("2026-03-30T05:00:00Z"))
        );
        // Back to winter on Sunday 2026-10-25.
        assert!(
            c.is_awake(at("2026-10-23T05:00:00Z")),
            "Friday, still summer"
        );
        assert!(
            c.is_awake(at("2026-10-26T06:00:00Z")) && !c.is_awake(at("2026-10-26T05:30:00Z")),
            "Monday, winter"
        );
        // A window inside the skipped hour still starts, just after the gap.
        let c = cal("Sun 02:30-05:00", "Europe/Berlin", "");
        assert_eq!(
            c.next_start(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T01:30:00Z"))
        );
        // A window in the repeated hour starts at its first occurrence.
        let c = cal("Sun 02:30-05:00", "Europe/Berlin", "");
        assert_eq!(
            c.next_start(at("2026-10-24T12:00:00Z")),
            Some(at("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn new_york_daylight_saving_switches() {
        let c = cal("Mon-Fri 08:00-18:00", "America/New_York", "");
        // EST (UTC-5) before Sunday 2026-03-08, EDT (UTC-4) after.
        assert!(c.is_awake(at("2026-03-06T13:00:00Z")) && !c.is_awake(at("2026-03-06T12:59:00Z")));
        assert!(c.is_awake(at("2026-03-09T12:00:00Z")) && !c.is_awake(at("2026-03-09T11:59:00Z")));
        // Back to EST on Sunday 2026-11-01.
        assert!(c.is_awake(at("2026-10-30T12:00:00Z")));
        assert!(c.is_awake(at("2026-11-02T13:00:00Z")) && !c.is_awake(at("2026-11-02T12:30:00Z")));
        assert_eq!(
            c.next_start(at("2026-10-30T23:00:00Z")),
            Some(at("2026-11-02T13:00:00Z"))
        );
    }

    #[test]
    fn bad_specs_point_at_the_bad_part() {
        for (spec, needle) in [
            ("Mon-Fri", "DAYS HH:MM-HH:MM"),
            ("Mon-Fir 07:00-19:00", "\"Fir\""),
            ("Mon-Fri 7-19", "\"7\" is not a time"),
            ("Mon-Fri 07:00-25:00", "\"25:00\""),
            ("Mon-Fri 07:00-19:00; Sat 10:60-12:00", "Sat 10:60-12:00"),
            ("Mon 09:00-09:00", "same"),
            ("", "no window"),
        ] {
            let e = parse_windows(spec).unwrap_err();
            assert!(e.contains(needle), "{spec:?}: {e}");
        }
        assert!(parse_holidays("2026-12-24,24.12.2026")
            .unwrap_err()
            .contains("24.12.2026"));
    }

    #[test]
    fn the_first_tick_after_a_boundary_is_told_from_the_others() {
        let c = Calendar {
            windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
            tz: Zone::named("Europe/Berlin").expect("a zone"),
            holidays: vec![],
        };
        let quarter = Duration::minutes(15);
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        // 19:00 in Berlin is 18:00 UTC in November.
        assert!(c.first_tick_after_boundary(at("2026-11-16T18:00:00Z"), quarter));
        assert!(
            c.first_tick_after_boundary(at("2026-11-16T18:10:00Z"), quarter),
            "a late tick"
        );
        assert!(!c.first_tick_after_boundary(at("2026-11-16T18:15:00Z"), quarter));
        assert!(!c.first_tick_after_boundary(at("2026-11-16T21:00:00Z"), quarter));
        assert!(
            c.first_tick_after_boundary(at("2026-11-17T06:00:00Z"), quarter),
            "07:00 local"
        );
        assert!(!c.first_tick_after_boundary(at("2026-11-17T05:45:00Z"), quarter));
    }

    #[test]
    fn a_services_tags_make_its_own_calendar_over_the_installs() {
        let install = cal("Mon-Fri 07:00-19:00", "UTC", "2026-12-25");
        let tags = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(install.for_service(&tags(&[])), Ok(None));
        // A time zone alone: the install's hours, in the service's zone.
        let tz_only = install
            .for_service(&tags(&[("autopilot:off-hours-timezone", "Europe/Berlin")]))
            .unwrap()
            .unwrap();
        assert_eq!(tz_only.windows, install.windows);
        assert_eq!(tz_only.tz.name(), "Europe/Berlin");
        assert_eq!(tz_only.holidays, install.holidays);
        // The tag-safe syntax: days joined by +, windows by /, holidays by spaces.
        let own = install
            .for_service(&tags(&[
                (
                    "autopilot:off-hours-on",
                    "Mon+Wed 08:00-12:00 / Sat 09:00-11:00",
                ),
                ("autopilot:off-hours-holidays", "2026-12-24 2026-12-31"),
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(own.windows.len(), 2);
        assert_eq!(own.windows[0].days, vec![Weekday::Mon, Weekday::Wed]);
        assert_eq!(own.holidays.len(), 2);
        assert!(own.is_awake(at("2026-11-18T09:00:00Z")), "Wednesday 09:00");
        assert!(!own.is_awake(at("2026-11-17T09:00:00Z")), "Tuesday");
        // Every wrong tag is named, with what it should look like.
        let bad = install
            .for_service(&tags(&[
                ("autopilot:off-hours-on", "weekdays 9 to 5"),
                ("autopilot:off-hours-timezone", "CEST"),
            ]))
            .unwrap_err();
        let named: Vec<&str> = bad.iter().map(|b| b.tag).collect();
        assert_eq!(
            named,
            ["autopilot:off-hours-on", "autopilot:off-hours-timezone"]
        );
        assert!(bad[0].problem.contains("Mon-Fri 08:00-18:00"), "{bad:?}");
    }

    #[test]
    fn the_tag_safe_syntax_is_a_valid_ecs_tag_value() {
        for v in [
            "Mon-Fri 08:00-18:00 / Sat 09:00-12:00",
            "Mon+Wed 08:00-12:00",
            "America/Los_Angeles",
            "2026-12-24 2026-12-25",
        ] {
            assert!(crate::tags::is_valid_value(v), "{v}");
        }
    }
}
