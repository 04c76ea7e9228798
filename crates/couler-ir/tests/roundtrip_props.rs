//! Property tests: IR → spec text → IR is exact, and printing is deterministic.
//!
//! The generators build random workflows that use every type of the IR (all step kinds, every
//! storage kind, expressions over every operator, templates, maps, loops, policies, volumes, …).
//! They need not pass semantic validation, but they are in canonical form wherever the format
//! defines one: templates come from `Template::from_segments` with no `{{` inside text, numbers
//! are finite, quantities are parsed from valid strings, and `apiVersion`/`kind` are the current
//! ones (the header check runs before the typed pass).

mod common;
use common::config;
use couler_ir::expr::{
    CmpOp, Expr, Literal, Reference, Segment, StepOutput, Template, WorkflowField,
};
use couler_ir::model::*;
use couler_ir::spec::{self, Format};
use couler_ir::value::{Duration, Quantity};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use std::collections::BTreeMap;

// ---- strings ------------------------------------------------------------------------------------

/// Strings that YAML (1.1 or 1.2) or JSON could read as something else, or that need quoting.
const SPECIAL: &[&str] = &[
    "",
    " ",
    "null",
    "Null",
    "NULL",
    "~",
    "true",
    "false",
    "True",
    "FALSE",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "N",
    "0",
    "-0",
    "123",
    "-1",
    "+1",
    "007",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1e3",
    "1E-3",
    "1.5",
    "1.",
    ".5",
    ".inf",
    "-.inf",
    "+.INF",
    ".nan",
    ".NaN",
    "1:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    " leading",
    "trailing ",
    "a: b",
    "a:b",
    "- x",
    "-",
    "--",
    "---",
    "...",
    "#c",
    "a #b",
    "'",
    "''",
    "\"",
    "\\",
    "\\n",
    "\n",
    "a\nb",
    "a\n",
    "\n\n",
    "a\n\n",
    " \n",
    "\na",
    "\t",
    "a\tb",
    "\r",
    "\r\n",
    "é",
    "日本語",
    "🎉",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "&a",
    "*a",
    "!tag",
    "!!str",
    "%",
    "@",
    "`",
    "{",
    "}",
    "[",
    "]",
    "{}",
    "[]",
    ",",
    "?",
    "? x",
    "|",
    ">",
    "|-",
    "<<",
    "=",
    "}}",
    "{x}",
    "{ {",
    "$x",
    "%TAG",
    "a,b",
    "a: [b]",
    "\"a\"",
    "'a'",
    "x\\\"y",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9 ._:/-]{0,12}",
        3 => select(SPECIAL).prop_map(str::to_string),
        2 => vec(select(SPECIAL), 1..4).prop_map(|v| v.concat()),
        1 => "(?s).{0,12}",
        1 => "[\\x00-\\x7f]{0,12}",
    ]
}

/// A word a reference may hold.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{0,8}",
        1 => "[A-Za-z0-9_-]{1,8}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z][a-z0-9-]{0,10}", 1 => text()]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-1000i32..1000).prop_map(f64::from),
        2 => -1e6f64..1e6,
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()),
        1 => select(vec![0.0, -0.0, 0.1, 1e-7, 1e21, 1e300, -1e-300, 5e-324, f64::MAX, f64::MIN, 9007199254740993.0]),
    ]
}

// ---- expressions and templates ----------------------------------------------------------------

fn step_output() -> impl Strategy<Value = StepOutput> {
    prop_oneof![
        token().prop_map(StepOutput::Parameter),
        token().prop_map(StepOutput::Artifact),
        Just(StepOutput::Result),
        Just(StepOutput::ExitCode),
        Just(StepOutput::Status),
    ]
}

fn reference() -> BoxedStrategy<Reference> {
    prop_oneof![
        token().prop_map(Reference::Param),
        (token(), step_output()).prop_map(|(step, output)| Reference::Step { step, output }),
        token().prop_map(Reference::InputParameter),
        token().prop_map(Reference::InputArtifactPath),
        (any::<bool>(), token())
            .prop_map(|(artifact, name)| Reference::OutputPath { artifact, name }),
        vec(token(), 0..3).prop_map(Reference::Item),
        select(vec![
            WorkflowField::Name,
            WorkflowField::RunId,
            WorkflowField::Status
        ])
        .prop_map(Reference::Workflow),
    ]
    .boxed()
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::String),
        finite_f64().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

fn expr() -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        literal().prop_map(Expr::Literal),
        reference().prop_map(Expr::Ref),
    ];
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (select(CmpOp::ALL.to_vec()), inner.clone(), inner.clone())
                .prop_map(|(op, l, r)| Expr::compare(op, l, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| l.and(r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| l.or(r)),
            inner.prop_map(Expr::not),
        ]
    })
    .boxed()
}

/// Text of a template segment in canonical form: no `{{` (it would start a placeholder), and no
/// trailing `{` before a reference (it would join the reference's own braces).
fn canonical_template(segments: Vec<Segment>) -> Template {
    let merged = Template::from_segments(segments);
    let segs = merged.segments();
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        match s {
            Segment::Text(t) => {
                let mut t = t.clone();
                while t.contains("{{") {
                    t = t.replace("{{", "{ {");
                }
                if t.ends_with('{') && matches!(segs.get(i + 1), Some(Segment::Ref(_))) {
                    t.push(' ');
                }
                out.push(Segment::Text(t));
            }
            r => out.push(r.clone()),
        }
    }
    Template::from_segments(out)
}

fn template() -> BoxedStrategy<Template> {
    vec(
        prop_oneof![
            3 => text().prop_map(Segment::Text),
            1 => reference().prop_map(Segment::Ref),
        ],
        0..5,
    )
    .prop_map(canonical_template)
    .boxed()
}

// ---- values ---------------------------------------------------------------------------------

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0u64..100_000_000).prop_map(Duration::from_millis),
        1 => (0u64..1_000_000).prop_map(Duration::from_secs),
        1 => any::<u64>().prop_map(Duration::from_millis),
    ]
}

/// The text of a valid quantity: a decimal number with a binary or decimal suffix, or an exponent.
fn quantity_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        3 => "[0-9]{1,5}",
        1 => "[0-9]{1,3}\\.[0-9]{0,3}",
        1 => "\\.[0-9]{1,3}",
        1 => "0[0-9]{1,3}",
    ];
    let suffix = prop_oneof![
        2 => Just(String::new()),
        3 => select(vec!["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T"])
            .prop_map(str::to_string),
        1 => "[eE][0-9]{1,2}",
    ];
    (number, suffix).prop_map(|(n, s)| format!("{n}{s}"))
}

fn quantity() -> impl Strategy<Value = Quantity> {
    quantity_text().prop_map(|t| {
        t.parse::<Quantity>()
            .expect("generated quantities are valid")
    })
}

/// Floats with at most 15 significant digits, which serde_json reads back exactly.
///
/// serde_json (built without its `float_roundtrip` feature, as in this workspace) may read a
/// longer float 1 ULP off; `json_keeps_every_float_exactly` below shows it, and
/// `yaml_keeps_every_float_exactly` covers all floats through YAML.
fn short_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-999_999_999_999_999i64..999_999_999_999_999, 0i32..20)
            .prop_map(|(m, k)| m as f64 / 10f64.powi(k)),
        1 => select(vec![0.0, -0.0, 0.5, 1e21, 1e-7, 1e300, -2.5e-300]),
    ]
}

fn json_value() -> BoxedStrategy<Value> {
    json_value_with(short_f64()).boxed()
}

fn json_value_with(float: impl Strategy<Value = f64> + 'static) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-100i64..100).prop_map(Value::from),
        float.prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(text(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A default as the format can hold it: an explicit `null` reads back as "no default".
fn param_default() -> impl Strategy<Value = Option<Value>> {
    of(json_value().prop_filter("null means no default", |v| !v.is_null()))
}

// ---- model --------------------------------------------------------------------------------------

fn secret_key_ref() -> impl Strategy<Value = SecretKeyRef> {
    (text(), text()).prop_map(|(name, key)| SecretKeyRef { name, key })
}

fn storage() -> BoxedStrategy<Storage> {
    prop_oneof![
        text().prop_map(|path| Storage::Local(LocalStorage { path })),
        (
            text(),
            text(),
            of(text()),
            of(text()),
            any::<bool>(),
            of(secret_key_ref()),
            of(secret_key_ref())
        )
            .prop_map(
                |(bucket, key, endpoint, region, insecure, access_key, secret_key)| {
                    Storage::S3(S3Storage {
                        bucket,
                        key,
                        endpoint,
                        region,
                        insecure,
                        access_key,
                        secret_key,
                    })
                }
            ),
        (text(), text(), of(secret_key_ref())).prop_map(|(bucket, key, service_account_key)| {
            Storage::Gcs(GcsStorage {
                bucket,
                key,
                service_account_key,
            })
        }),
        (
            text(),
            text(),
            text(),
            of(secret_key_ref()),
            of(secret_key_ref())
        )
            .prop_map(|(endpoint, bucket, key, access_key, secret_key)| {
                Storage::Oss(OssStorage {
                    endpoint,
                    bucket,
                    key,
                    access_key,
                    secret_key,
                })
            }),
        (vec(text(), 0..3), text(), of(text())).prop_map(|(addresses, path, user)| Storage::Hdfs(
            HdfsStorage {
                addresses,
                path,
                user
            }
        )),
        (text(), of(text()), of(any::<u32>())).prop_map(|(repo, revision, depth)| Storage::Git(
            GitStorage {
                repo,
                revision,
                depth
            }
        )),
        text().prop_map(|url| Storage::Http(HttpStorage { url })),
    ]
    .boxed()
}

fn step_kind() -> BoxedStrategy<StepKind> {
    prop_oneof![
        (
            of(text()),
            vec(template(), 0..3),
            vec(template(), 0..3),
            of(text())
        )
            .prop_map(|(image, command, args, working_dir)| {
                StepKind::Container(Container {
                    image,
                    command,
                    args,
                    working_dir,
                    daemon: false,
                })
            }),
        (
            of(text()),
            prop_oneof![Just(default_interpreter()), vec(text(), 0..3)],
            template()
        )
            .prop_map(|(image, command, source)| StepKind::Script(Script {
                image,
                command,
                source,
                daemon: false,
            })),
        (
            select(vec![
                ResourceAction::Create,
                ResourceAction::Apply,
                ResourceAction::Delete,
                ResourceAction::Patch,
                ResourceAction::Replace
            ]),
            template(),
            of(text()),
            of(text())
        )
            .prop_map(|(action, manifest, success_condition, failure_condition)| {
                StepKind::Resource(ResourceStep {
                    action,
                    manifest,
                    success_condition,
                    failure_condition,
                })
            }),
        (
            select(vec![
                Framework::Tensorflow,
                Framework::Pytorch,
                Framework::Mpi
            ]),
            text(),
            vec(template(), 0..2),
            vec(template(), 0..2),
            btree_map(text(), any::<u32>(), 0..3),
            select(vec![
                CleanPodPolicy::Running,
                CleanPodPolicy::All,
                CleanPodPolicy::None
            ])
        )
            .prop_map(
                |(framework, image, command, args, replicas, clean_pod_policy)| {
                    StepKind::Job(DistributedJob {
                        framework,
                        image,
                        command,
                        args,
                        replicas,
                        clean_pod_policy,
                    })
                }
            ),
        (text(), btree_map(text(), template(), 0..3))
            .prop_map(|(reference, params)| StepKind::Workflow(SubWorkflow { reference, params })),
        of(duration()).prop_map(|duration| StepKind::Suspend(Suspend { duration })),
    ]
    .boxed()
}

fn inputs() -> BoxedStrategy<Inputs> {
    let parameter =
        (text(), of(template())).prop_map(|(name, value)| InputParameter { name, value });
    let source = of(prop_oneof![
        reference().prop_map(ArtifactSource::From),
        storage().prop_map(ArtifactSource::Storage),
    ]);
    let artifact =
        (text(), text(), source, any::<bool>()).prop_map(|(name, path, source, optional)| {
            InputArtifact {
                name,
                path,
                source,
                optional,
            }
        });
    (vec(parameter, 0..3), vec(artifact, 0..3))
        .prop_map(|(parameters, artifacts)| Inputs {
            parameters,
            artifacts,
        })
        .boxed()
}

fn outputs() -> BoxedStrategy<Outputs> {
    let parameter =
        (text(), of(text()), of(text())).prop_map(|(name, path, default)| OutputParameter {
            name,
            path,
            default,
        });
    let artifact = (text(), text(), of(storage()), any::<bool>()).prop_map(
        |(name, path, storage, optional)| OutputArtifact {
            name,
            path,
            storage,
            optional,
        },
    );
    (vec(parameter, 0..3), vec(artifact, 0..3))
        .prop_map(|(parameters, artifacts)| Outputs {
            parameters,
            artifacts,
        })
        .boxed()
}

fn map() -> BoxedStrategy<Map> {
    let over =
        prop_oneof![
            vec(json_value(), 0..4).prop_map(MapOver::Items),
            (any::<i64>(), any::<i64>(), any::<i64>())
                .prop_map(|(start, stop, step)| MapOver::Range { start, stop, step }),
            (-5i64..5, -5i64..50, prop_oneof![Just(1i64), -3i64..3])
                .prop_map(|(start, stop, step)| MapOver::Range { start, stop, step }),
            reference().prop_map(MapOver::From),
        ];
    (over, of(any::<u32>()))
        .prop_map(|(over, parallelism)| Map { over, parallelism })
        .boxed()
}

fn retry() -> BoxedStrategy<Retry> {
    let backoff = (
        duration(),
        prop_oneof![Just(2u32), any::<u32>()],
        of(duration()),
    )
        .prop_map(|(duration, factor, max)| Backoff {
            duration,
            factor,
            max,
        });
    (
        any::<u32>(),
        select(vec![
            RetryOn::Failure,
            RetryOn::Error,
            RetryOn::Transient,
            RetryOn::Always,
        ]),
        of(backoff),
    )
        .prop_map(|(limit, on, backoff)| Retry {
            limit,
            on,
            backoff,
            slow: None,
        })
        .boxed()
}

fn resource_list() -> BoxedStrategy<ResourceList> {
    (
        of(quantity()),
        of(quantity()),
        of(any::<u32>()),
        of(quantity()),
    )
        .prop_map(|(cpu, memory, gpu, ephemeral_storage)| ResourceList {
            cpu,
            memory,
            gpu,
            ephemeral_storage,
        })
        .boxed()
}

fn resources() -> BoxedStrategy<Resources> {
    (resource_list(), resource_list())
        .prop_map(|(requests, limits)| Resources { requests, limits })
        .boxed()
}

fn cache() -> BoxedStrategy<CachePolicy> {
    (any::<bool>(), of(text()), of(duration()))
        .prop_map(|(enabled, version, max_age)| CachePolicy {
            enabled,
            version,
            max_age,
        })
        .boxed()
}

fn toleration() -> BoxedStrategy<Toleration> {
    (
        of(text()),
        select(vec![TolerationOperator::Equal, TolerationOperator::Exists]),
        of(text()),
        of(select(vec![
            TaintEffect::NoSchedule,
            TaintEffect::PreferNoSchedule,
            TaintEffect::NoExecute,
        ])),
        of(any::<u64>()),
    )
        .prop_map(
            |(key, operator, value, effect, toleration_seconds)| Toleration {
                key,
                operator,
                value,
                effect,
                toleration_seconds,
            },
        )
        .boxed()
}

fn volume_mount() -> BoxedStrategy<VolumeMount> {
    (name(), text(), any::<bool>(), of(text()))
        .prop_map(|(name, mount_path, read_only, sub_path)| VolumeMount {
            name,
            mount_path,
            read_only,
            sub_path,
        })
        .boxed()
}

fn step() -> BoxedStrategy<Step> {
    let head = (name(), of(text()), step_kind(), inputs(), outputs());
    let wiring = (
        btree_map(text(), template(), 0..3),
        vec(
            (text(), text(), text()).prop_map(|(env, secret, key)| SecretEnv { env, secret, key }),
            0..2,
        ),
        vec(name(), 0..3),
        of(expr()),
        of(map()),
        of(
            (expr(), any::<u32>()).prop_map(|(condition, max_iterations)| Repeat {
                condition,
                max_iterations,
            }),
        ),
    );
    let policy = (
        of(retry()),
        of(duration()),
        of(resources()),
        btree_map(text(), text(), 0..2),
        vec(toleration(), 0..2),
        vec(volume_mount(), 0..2),
        of(cache()),
        any::<bool>(),
    );
    (head, wiring, policy)
        .prop_map(
            |(
                (name, description, kind, inputs, outputs),
                (env, secrets, depends_on, when, map, repeat),
                (
                    retry,
                    timeout,
                    resources,
                    node_selector,
                    tolerations,
                    volume_mounts,
                    cache,
                    continue_on_failure,
                ),
            )| Step {
                name,
                description,
                kind,
                inputs,
                outputs,
                env,
                secrets,
                depends_on,
                when,
                map: map.map(Box::new),
                repeat: repeat.map(Box::new),
                retry: retry.map(Box::new),
                timeout,
                resources: resources.map(Box::new),
                node_selector,
                tolerations,
                volume_mounts,
                cache: cache.map(Box::new),
                continue_on_failure,
                tune: None,
            },
        )
        .boxed()
}

fn workflow_param() -> BoxedStrategy<WorkflowParam> {
    (
        token(),
        select(vec![
            ParamType::String,
            ParamType::Int,
            ParamType::Float,
            ParamType::Bool,
            ParamType::Json,
        ]),
        param_default(),
        of(text()),
        vec(json_value(), 0..3),
    )
        .prop_map(|(name, ty, default, description, allowed)| WorkflowParam {
            name,
            ty,
            default,
            description,
            allowed,
        })
        .boxed()
}

fn schedule() -> BoxedStrategy<Schedule> {
    (
        prop_oneof![
            Just("0 2 * * *".to_string()),
            Just("@daily".to_string()),
            text()
        ],
        of(text()),
        select(vec![
            ConcurrencyPolicy::Allow,
            ConcurrencyPolicy::Forbid,
            ConcurrencyPolicy::Replace,
        ]),
        of(duration()),
    )
        .prop_map(
            |(cron, timezone, concurrency_policy, starting_deadline)| Schedule {
                cron,
                timezone,
                concurrency_policy,
                starting_deadline,
            },
        )
        .boxed()
}

fn volume() -> BoxedStrategy<Volume> {
    let source = prop_oneof![
        text().prop_map(|name| VolumeSource::Claim { name }),
        text().prop_map(|name| VolumeSource::ConfigMap { name }),
        text().prop_map(|name| VolumeSource::Secret { name }),
        Just(VolumeSource::EmptyDir {}),
        text().prop_map(|path| VolumeSource::HostPath { path }),
    ];
    (name(), source)
        .prop_map(|(name, source)| Volume { name, source })
        .boxed()
}

fn volume_claim() -> BoxedStrategy<VolumeClaim> {
    (
        name(),
        quantity(),
        of(text()),
        prop_oneof![
            Just(vec!["ReadWriteOnce".to_string()]),
            vec(
                select(vec!["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"])
                    .prop_map(str::to_string),
                0..3
            ),
        ],
    )
        .prop_map(|(name, size, storage_class, access_modes)| VolumeClaim {
            name,
            size,
            storage_class,
            access_modes,
        })
        .boxed()
}

fn defaults() -> BoxedStrategy<StepDefaults> {
    (
        of(text()),
        of(retry()),
        of(duration()),
        of(resources()),
        of(cache()),
    )
        .prop_map(|(image, retry, timeout, resources, cache)| StepDefaults {
            image,
            retry,
            timeout,
            resources,
            cache,
        })
        .boxed()
}

fn ttl() -> BoxedStrategy<Ttl> {
    (of(duration()), of(duration()), of(duration()))
        .prop_map(|(after_completion, after_success, after_failure)| Ttl {
            after_completion,
            after_success,
            after_failure,
        })
        .boxed()
}

fn pod_gc() -> BoxedStrategy<PodGc> {
    let strategy = prop_oneof![
        Just(PodGcStrategy::OnPodCompletion),
        Just(PodGcStrategy::OnPodSuccess),
        Just(PodGcStrategy::OnWorkflowCompletion),
        Just(PodGcStrategy::OnWorkflowSuccess),
    ];
    (strategy, of(duration()), btree_map(text(), text(), 0..2))
        .prop_map(|(strategy, delete_delay, match_labels)| PodGc {
            strategy,
            delete_delay,
            match_labels,
        })
        .boxed()
}

fn workflow() -> BoxedStrategy<Workflow> {
    let meta = (
        name(),
        of(text()),
        btree_map(text(), text(), 0..3),
        btree_map(text(), text(), 0..3),
        vec(workflow_param(), 0..3),
        defaults(),
        of(any::<u32>()),
        of(schedule()),
        of(text()),
        vec(text(), 0..2),
    );
    let rest = (
        vec(volume(), 0..3),
        vec(volume_claim(), 0..2),
        (of(ttl()), of(pod_gc()), of(duration())),
        of(storage()),
        vec(
            (name(), vec(name(), 0..3)).prop_map(|(name, steps)| Group { name, steps }),
            0..2,
        ),
        vec(step(), 0..4),
        vec(step(), 0..3),
    );
    (meta, rest)
        .prop_map(
            |(
                (
                    name,
                    description,
                    labels,
                    annotations,
                    params,
                    defaults,
                    parallelism,
                    schedule,
                    service_account,
                    image_pull_secrets,
                ),
                (
                    volumes,
                    volume_claims,
                    (ttl, pod_gc, timeout),
                    artifact_repository,
                    groups,
                    steps,
                    on_exit,
                ),
            )| {
                let mut wf = Workflow::new(name);
                wf.description = description;
                wf.labels = labels;
                wf.annotations = annotations;
                wf.params = params;
                wf.defaults = defaults;
                wf.parallelism = parallelism;
                wf.schedule = schedule;
                wf.service_account = service_account;
                wf.image_pull_secrets = image_pull_secrets;
                wf.volumes = volumes;
                wf.volume_claims = volume_claims;
                wf.ttl = ttl;
                wf.timeout = timeout;
                wf.pod_gc = pod_gc;
                wf.artifact_repository = artifact_repository;
                wf.groups = groups;
                wf.steps = steps;
                wf.on_exit = on_exit;
                wf
            },
        )
        .boxed()
}

// ---- properties ---------------------------------------------------------------------------------

fn round_trip(wf: &Workflow, format: Format) -> Result<(), TestCaseError> {
    let text = spec::to_string(wf, format);
    match spec::parse(&text, format) {
        Ok(back) => {
            prop_assert_eq!(&back, wf, "{:?} text:\n{}", format, text);
            let again = spec::to_string(&back, format);
            prop_assert_eq!(again, text, "printing the re-parsed IR changed the text");
        }
        Err(errors) => {
            return Err(TestCaseError::fail(format!(
                "{format:?} printed by to_string does not parse: {errors:#?}\ntext:\n{text}"
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn workflows_round_trip_through_yaml(wf in workflow()) {
        round_trip(&wf, Format::Yaml)?;
    }

    #[test]
    fn workflows_round_trip_through_json(wf in workflow()) {
        round_trip(&wf, Format::Json)?;
    }

    #[test]
    fn yaml_and_json_read_as_the_same_ir(wf in workflow()) {
        // The two formats hold the same document shapes: JSON text read as YAML gives the same IR
        // (unless it holds characters YAML forbids, which JSON writes unescaped).
        let json = spec::to_json(&wf);
        if json.chars().any(yaml_forbids) {
            return Ok(());
        }
        let as_yaml = spec::parse(&json, Format::Yaml);
        prop_assert_eq!(as_yaml.as_ref().ok(), Some(&wf), "{:?}\n{}", as_yaml.as_ref().err(), json);
    }

    #[test]
    fn yaml_keeps_every_float_exactly(items in vec(json_value_with(finite_f64()), 1..8)) {
        let mut wf = Workflow::new("floats");
        let mut step = Step::new("s", StepKind::Suspend(Suspend::default()));
        step.map = Some(Box::new(Map { over: MapOver::Items(items), parallelism: None }));
        wf.steps.push(step);
        round_trip(&wf, Format::Yaml)?;
    }
}

/// Characters YAML forbids unescaped (outside c-printable), or reads as line breaks inside a
/// quoted string (NEL, LS, PS), where JSON keeps them as they are.
fn yaml_forbids(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Fails today: serde_json, built without its `float_roundtrip` feature, reads some floats 1 ULP
/// off (e.g. `2.3022318628687107e-23` or `-933262.0437725841`), so a JSON spec's float in a
/// `default`, `enum` or `map.items` does not read back as printed. Enabling
/// `serde_json = { features = ["float_roundtrip"] }` in the workspace makes this pass.
#[test]
fn json_keeps_every_float_exactly() {
    for f in [2.302_231_862_868_711e-23, -933_262.043_772_584_1] {
        let mut wf = Workflow::new("floats");
        let mut step = Step::new("s", StepKind::Suspend(Suspend::default()));
        step.map = Some(Box::new(Map {
            over: MapOver::Items(vec![Value::from(f)]),
            parallelism: None,
        }));
        wf.steps.push(step);
        let back = spec::parse(&spec::to_json(&wf), Format::Json).unwrap();
        assert_eq!(back, wf);
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn expressions_round_trip(e in expr()) {
        let printed = e.to_string();
        let back = Expr::parse(&printed);
        prop_assert_eq!(back.as_ref(), Ok(&e), "printed: {}", printed);
        prop_assert_eq!(back.unwrap().to_string(), printed);
    }

    #[test]
    fn templates_round_trip(t in template()) {
        let printed = t.to_string();
        let back = Template::parse(&printed);
        prop_assert_eq!(back.as_ref(), Ok(&t), "printed: {:?}", printed);
    }

    #[test]
    fn references_round_trip(r in reference()) {
        prop_assert_eq!(Reference::parse(&r.to_string()), Ok(r));
    }

    #[test]
    fn durations_round_trip(d in duration()) {
        let printed = d.to_string();
        prop_assert_eq!(printed.parse::<Duration>(), Ok(d));
    }

    #[test]
    fn durations_read_every_written_form(
        parts in vec((0u64..1000, select(vec!["d", "h", "m", "s", "ms"])), 1..5),
    ) {
        let factor = |u: &str| match u {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => 1,
        };
        let written: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
        let millis: u64 = parts.iter().map(|(n, u)| n * factor(u)).sum();
        let d: Duration = written.parse().map_err(TestCaseError::fail)?;
        prop_assert_eq!(d.as_millis(), millis);
        // The canonical form reads back the same and is a fixed point.
        let canonical = d.to_string();
        prop_assert_eq!(canonical.parse::<Duration>(), Ok(d));
        prop_assert_eq!(canonical.parse::<Duration>().unwrap().to_string(), canonical);
    }

    #[test]
    fn quantities_round_trip(text in quantity_text()) {
        let q: Quantity = text.parse().map_err(TestCaseError::fail)?;
        prop_assert_eq!(q.as_str(), text.as_str());
        prop_assert_eq!(q.to_string().parse::<Quantity>(), Ok(q.clone()));
        // Through both formats, as a field.
        let list = ResourceList { cpu: Some(q.clone()), ..ResourceList::default() };
        let yaml = serde_norway::to_string(&list).unwrap();
        prop_assert_eq!(serde_norway::from_str::<ResourceList>(&yaml).ok(), Some(list.clone()), "{}", yaml);
        let json = serde_json::to_string(&list).unwrap();
        prop_assert_eq!(serde_json::from_str::<ResourceList>(&json).ok(), Some(list), "{}", json);
    }
}

#[test]
fn a_full_workflow_prints_what_it_reads() {
    // One hand-written spec that uses most of the format, read, printed and read again.
    let text = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: full
labels:
  team: ml
params:
- name: lr
  type: float
  default: 0.1
- name: shards
  type: json
  default: [1, 2, 3]
defaults:
  retry:
    limit: 2
    backoff:
      duration: 10s
      max: 1m
  timeout: 1h
volumes:
- name: data
  source:
    claim:
      name: data-pvc
- name: scratch
  source:
    emptyDir: {}
volumeClaims:
- name: work
  size: 10Gi
artifactRepository:
  s3:
    bucket: artifacts
steps:
- name: prep
  container:
    image: python:3.12
    command: [python, prep.py, "--lr={{params.lr}}"]
  outputs:
    parameters:
    - name: n
      path: /tmp/n
    artifacts:
    - name: data
      path: /tmp/data
      storage:
        gcs:
          bucket: b
- name: train
  map:
    from: params.shards
  when: steps.prep.outputs.parameters.n > 0 && !(params.lr == "0")
  script:
    source: |
      print("{{item}}")
  inputs:
    artifacts:
    - name: data
      path: /data
      from: steps.prep.outputs.artifacts.data
  resources:
    requests: {cpu: 500m, memory: 1Gi}
    limits: {cpu: 2, memory: 2Gi, gpu: 1}
  volumeMounts:
  - name: data
    mountPath: /mnt/data
onExit:
  name: notify
  container:
    image: alpine
    command: [echo, "{{workflow.status}}"]
"#;
    let (wf, warnings) = spec::load(text, Format::Yaml).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(warnings.is_empty(), "{warnings:#?}");
    let yaml = spec::to_yaml(&wf);
    assert_eq!(spec::parse(&yaml, Format::Yaml).unwrap(), wf);
    let json = spec::to_json(&wf);
    assert_eq!(spec::parse(&json, Format::Json).unwrap(), wf);
    assert!(yaml.contains("claim:"), "{yaml}");
}

#[test]
fn literal_edge_cases_round_trip() {
    for n in [0.0, -0.0, 1e300, 5e-324, f64::MAX, -1.5, 1e21, 1e-7] {
        let e = Expr::compare(CmpOp::Lt, Reference::Param("x".into()), n);
        assert_eq!(Expr::parse(&e.to_string()).unwrap(), e, "{e}");
    }
    for s in SPECIAL {
        let e = Expr::compare(CmpOp::Eq, Reference::Param("x".into()), *s);
        assert_eq!(Expr::parse(&e.to_string()).unwrap(), e, "{e}");
        let t = Template::text(*s);
        assert_eq!(Template::parse(&t.to_string()).unwrap(), t, "{s:?}");
    }
    let bare: BTreeMap<&str, Expr> = [
        ("true", Expr::from(true)),
        ("false", Expr::from(false)),
        ("1.5", Expr::from(1.5)),
        ("\"x\"", Expr::from("x")),
    ]
    .into_iter()
    .collect();
    for (text, e) in bare {
        assert_eq!(Expr::parse(text).unwrap(), e);
    }
}
