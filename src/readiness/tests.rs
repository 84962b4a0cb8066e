use proptest::prelude::*;

use super::*;

fn r(begin: i64, end: i64) -> Range {
    Range { begin, end }
}

#[test]
fn one_range_is_a_window_without_gap() {
    let j = Window::of(&[r(100, 900)]);
    assert_eq!(j.window.ranges, [r(100, 900)]);
    assert_eq!(
        (j.window.begin(), j.window.end(), j.window.gap()),
        (Some(100), Some(900), Some(0))
    );
    assert!(j.ignored.is_empty());
}

#[test]
fn a_hole_is_counted() {
    let j = Window::of(&[r(100, 400), r(1000, 2000)]);
    assert_eq!(j.window.ranges.len(), 2);
    assert_eq!(j.window.gap(), Some(600));
    assert_eq!((j.window.begin(), j.window.end()), (Some(100), Some(2000)));
}

#[test]
fn unsorted_and_overlapping_ranges_are_merged() {
    let j = Window::of(&[r(500, 800), r(100, 600), r(2000, 3000), r(700, 900)]);
    assert_eq!(j.window.ranges, [r(100, 900), r(2000, 3000)]);
    assert_eq!(j.window.gap(), Some(1100));
    // A range inside another adds nothing.
    let j = Window::of(&[r(100, 900), r(200, 300)]);
    assert_eq!(j.window.ranges, [r(100, 900)]);
}

#[test]
fn a_range_starting_the_second_after_continues_the_one_before() {
    let j = Window::of(&[r(100, 200), r(201, 300)]);
    assert_eq!(j.window.ranges, [r(100, 300)]);
    assert_eq!(j.window.gap(), Some(0));
    let j = Window::of(&[r(100, 200), r(202, 300)]);
    assert_eq!(j.window.ranges.len(), 2, "one second missing is a hole");
    assert_eq!(j.window.gap(), Some(2));
}

#[test]
fn a_range_ending_before_it_begins_is_set_aside() {
    let j = Window::of(&[r(100, 400), r(900, 800)]);
    assert_eq!(j.window.ranges, [r(100, 400)]);
    assert_eq!(j.ignored, [r(900, 800)]);
    let j = Window::of(&[r(900, 800)]);
    assert_eq!(
        (j.window.begin(), j.window.end(), j.window.gap()),
        (None, None, None)
    );
    assert_eq!(Window::of(&[]).window.ranges, []);
}

#[test]
fn a_point_in_time_is_a_range() {
    let j = Window::of(&[r(500, 500)]);
    assert_eq!(j.window.ranges, [r(500, 500)]);
    assert!(j.ignored.is_empty());
}

fn ranges() -> impl Strategy<Value = Vec<Range>> {
    prop::collection::vec((0i64..10_000, -200i64..2_000), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(begin, len)| r(begin, begin + len))
            .collect()
    })
}

proptest! {
    #[test]
    fn merged_windows_keep_every_point_and_add_none(listed in ranges()) {
        let j = Window::of(&listed);
        let w = &j.window;
        let valid: Vec<Range> = listed.iter().copied().filter(|r| r.end >= r.begin).collect();
        let ignored: Vec<Range> = listed.iter().copied().filter(|r| r.end < r.begin).collect();
        prop_assert_eq!(&j.ignored, &ignored);
        // Sorted, disjoint, with a real hole (a whole second at least) between two.
        for pair in w.ranges.windows(2) {
            prop_assert!(pair[0].end + 1 < pair[1].begin, "{:?}", w.ranges);
        }
        prop_assert!(w.ranges.iter().all(|r| r.begin <= r.end));
        // Every listed range lies in one merged range, and each merged one begins and
        // ends at listed points.
        for v in &valid {
            prop_assert!(w.ranges.iter().any(|m| m.begin <= v.begin && v.end <= m.end));
        }
        for m in &w.ranges {
            prop_assert!(valid.iter().any(|v| v.begin == m.begin));
            prop_assert!(valid.iter().any(|v| v.end == m.end));
        }
        prop_assert_eq!(w.begin(), valid.iter().map(|r| r.begin).min());
        prop_assert_eq!(w.end(), valid.iter().map(|r| r.end).max());
        // The gap is the window less what the ranges cover.
        if let (Some(b), Some(e), Some(gap)) = (w.begin(), w.end(), w.gap()) {
            let covered: i64 = w.ranges.iter().map(|r| r.end - r.begin).sum();
            prop_assert_eq!(gap, e - b - covered);
            prop_assert_eq!(gap == 0, w.ranges.len() == 1);
        } else {
            prop_assert!(valid.is_empty());
        }
        // Order does not matter.
        let mut reversed = listed.clone();
        reversed.reverse();
        prop_assert_eq!(&Window::of(&reversed).window, w);
    }
}
