//! `weir describe` end to end: the structure of the planned topology for a few definitions
//! (sub-topologies, what each holds, the internal topics), and that the Mermaid and Graphviz
//! outputs are well-formed graphs whose edges name declared nodes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir")).args(args).current_dir(root()).output().expect("run weir")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn describe(file: &str, format: &str) -> String {
    let out = weir(&["describe", file, "--format", format]);
    assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The text of each `Sub-topology: N` block, in order.
fn subtopologies(text: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("   Sub-topology: ") {
            blocks.push(String::new());
        } else if line.is_empty() || !line.starts_with("    ") {
            continue;
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

struct Case {
    file: &'static str,
    /// Lines each sub-topology must contain, in order of the sub-topologies.
    subtopologies: &'static [&'static [&'static str]],
    /// Lines of the trailing sections (producers, stores, internal topics).
    elsewhere: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        file: "crates/weir/tests/describe/group_by_count.yaml",
        subtopologies: &[
            &[
                "Source: clicks (topics: [clicks])",
                "Processor: by_page (stores: [])",
                "Sink: by_page-sink (topic: weir-by_page-repartition)",
                "<-- by_page-filterNullKeys",
            ],
            &[
                "Source: weir-by_page-repartition (topics: [weir-by_page-repartition])",
                "Processor: page_counts (stores: [page_counts])",
                "Sink: group_by_count_pipelines_counted_to (topic: page_counts)",
            ],
        ],
        elsewhere: &[
            "weir-by_page-repartition (repartition)",
            "weir-page_counts-changelog (changelog of store 'page_counts')",
            "page_counts (timestamped key-value, changelog: weir-page_counts-changelog)",
        ],
    },
    Case {
        file: "crates/weir/tests/describe/producer_and_store.yaml",
        subtopologies: &[&[
            "Source: ticks (topics: [ticks])",
            "Processor: producer_and_store_pipelines_watch_forEach (stores: [last_seen])",
        ]],
        elsewhere: &[
            "Producer: producer_and_store.ticks (generator: producer_and_store.generate, topic: ticks, stores: [])",
            "last_seen (key-value, changelog: weir-last_seen-changelog)",
        ],
    },
    Case {
        file: "crates/weir/tests/run/joins/foreign_key.yaml",
        subtopologies: &[
            &[
                "Source: orders (topics: [orders])",
                "Sink: foreign_key_pipelines_inner_via_0-subscribe-sink (topic: weir-foreign_key_pipelines_inner_via_0-subscription-registration-topic)",
                "Source: weir-foreign_key_pipelines_inner_via_0-subscription-response-topic",
            ],
            &[
                "Source: customers (topics: [customers])",
                "Source: weir-foreign_key_pipelines_inner_via_0-subscription-registration-topic",
                "Processor: foreign_key_pipelines_inner_via_0-receive (stores: [foreign_key_pipelines_inner_via_0-subscription-store, customers])",
            ],
        ],
        elsewhere: &[
            "weir-foreign_key_pipelines_inner_via_0-subscription-registration-topic (foreign-key join subscriptions)",
            "weir-foreign_key_pipelines_inner_via_0-subscription-response-topic (foreign-key join responses)",
        ],
    },
    Case {
        file: "crates/weir/tests/run/joins/global.yaml",
        subtopologies: &[
            &["Source: orders (topics: [orders])", "Processor: global_pipelines_enrich_via_0 (stores: [products])"],
            &["Source: products (topics: [products])", "Processor: products-global-table (stores: [products])"],
        ],
        elsewhere: &["products (timestamped key-value, no changelog)"],
    },
];

#[test]
fn describe_shows_the_planned_sub_topologies() {
    for case in CASES {
        let text = describe(case.file, "text");
        assert!(text.starts_with("Topologies:\n"), "{}:\n{text}", case.file);
        let blocks = subtopologies(&text);
        assert_eq!(blocks.len(), case.subtopologies.len(), "{}: sub-topologies\n{text}", case.file);
        for (i, (block, lines)) in blocks.iter().zip(case.subtopologies).enumerate() {
            for line in *lines {
                assert!(block.lines().any(|l| l.trim_start().starts_with(line)), "{}: sub-topology {i} lacks '{line}':\n{text}", case.file);
            }
        }
        for line in case.elsewhere {
            assert!(text.lines().any(|l| l.trim() == *line), "{}: lacks '{line}':\n{text}", case.file);
        }
    }
}

#[test]
fn the_global_store_runs_no_task() {
    let text = describe("crates/weir/tests/run/joins/global.yaml", "text");
    assert!(text.contains("   Sub-topology: 1 for global store (will not generate tasks)\n"), "{text}");
}

#[test]
fn every_node_name_is_unique_and_every_arrow_names_a_node() {
    for case in CASES {
        let text = describe(case.file, "text");
        let mut names = HashSet::new();
        for line in text.lines().filter(|l| l.starts_with("    ") && !l.starts_with("      ")) {
            let name = line.trim().split_once(": ").map(|(_, rest)| rest.split(" (").next().unwrap_or(rest)).expect(line);
            assert!(names.insert(name.to_string()), "{}: '{name}' twice:\n{text}", case.file);
        }
        for line in text.lines().filter(|l| l.starts_with("      --> ") || l.starts_with("      <-- ")) {
            for name in line[10..].split(", ").filter(|n| *n != "none") {
                assert!(names.contains(name), "{}: arrow to unknown '{name}':\n{text}", case.file);
            }
        }
    }
}

/// Node ids declared in a graph and its edges, read from the output line by line.
struct Graph {
    declared: HashSet<String>,
    edges: Vec<(String, String)>,
}

/// A Graphviz digraph: braces balance (outside quoted labels), every statement is a node with a
/// label, an edge, a cluster or an attribute, and every edge's ends are declared nodes.
fn parse_dot(text: &str) -> Graph {
    let mut depth = 0i32;
    let mut in_quotes = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '{' if !in_quotes => depth += 1,
            '}' if !in_quotes => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced braces:\n{text}");
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced braces:\n{text}");
    assert!(!in_quotes, "unclosed quote:\n{text}");
    assert!(text.starts_with("digraph topology {\n"), "{text}");
    let mut graph = Graph { declared: HashSet::new(), edges: Vec::new() };
    for line in text.lines().map(str::trim) {
        if let Some((from, rest)) = line.split_once(" -> ") {
            let to = rest.trim_end_matches(';').split(' ').next().expect("edge target").trim_end_matches(';');
            graph.edges.push((from.to_string(), to.to_string()));
        } else if let Some((id, attrs)) = line.split_once(" [label=\"") {
            assert!(attrs.ends_with("];"), "node statement '{line}'");
            graph.declared.insert(id.to_string());
        } else {
            let known = line.starts_with("subgraph cluster_")
                || line.starts_with("label=\"")
                || line == "}"
                || line.starts_with("digraph ")
                || line.starts_with("rankdir=")
                || line.starts_with("node [");
            assert!(known, "unexpected dot statement '{line}':\n{text}");
        }
    }
    graph
}

/// A Mermaid flowchart: `subgraph`/`end` balance, every node line declares an id with a
/// quoted label, every edge's ends are declared.
fn parse_mermaid(text: &str) -> Graph {
    assert!(text.starts_with("flowchart TD\n"), "{text}");
    let mut depth = 0i32;
    let mut graph = Graph { declared: HashSet::new(), edges: Vec::new() };
    for line in text.lines().skip(1).map(str::trim) {
        if line.starts_with("subgraph ") {
            depth += 1;
        } else if line == "end" {
            depth -= 1;
            assert!(depth >= 0, "'end' without 'subgraph':\n{text}");
        } else if let Some((from, to)) = line.split_once(" --> ").or_else(|| line.split_once(" -.-> ")) {
            graph.edges.push((from.to_string(), to.to_string()));
        } else {
            let id: String = line.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let label = &line[id.len()..];
            assert!(!id.is_empty() && label.matches('"').count() == 2, "unexpected mermaid line '{line}':\n{text}");
            graph.declared.insert(id);
        }
    }
    assert_eq!(depth, 0, "unbalanced subgraphs:\n{text}");
    graph
}

#[test]
fn mermaid_and_dot_are_well_formed_graphs_of_the_same_edges() {
    for case in CASES {
        let dot = parse_dot(&describe(case.file, "dot"));
        let mermaid = parse_mermaid(&describe(case.file, "mermaid"));
        for graph in [&dot, &mermaid] {
            assert!(!graph.edges.is_empty(), "{}: no edges", case.file);
            for (from, to) in &graph.edges {
                assert!(
                    graph.declared.contains(from) && graph.declared.contains(to),
                    "{}: edge {from} -> {to} to an undeclared node",
                    case.file
                );
            }
        }
        assert_eq!(dot.declared, mermaid.declared, "{}", case.file);
        assert_eq!(dot.edges, mermaid.edges, "{}", case.file);
    }
}

#[test]
fn a_repartition_topic_links_its_sink_to_the_next_sub_topology() {
    let dot = describe("crates/weir/tests/describe/group_by_count.yaml", "dot");
    // The sink to the repartition topic (n2) feeds the source that reads it (s1).
    assert!(dot.contains("  n2 -> s1 [style=dashed];\n"), "{dot}");
    assert!(dot.contains("n2 [label=\"Sink: by_page-sink\\ntopic: weir-by_page-repartition\", shape=house];"), "{dot}");
}

#[test]
fn describe_reports_a_definition_that_does_not_plan() {
    let out = weir(&["describe", "crates/weir/tests/run/joins/bad_window_store.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad_window_store.yaml:"), "{}", String::from_utf8_lossy(&out.stderr));
}
