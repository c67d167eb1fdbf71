package dev.weir.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The Kafka Streams baseline of bench/kafka/run.sh.
 *
 * <pre>
 *   StreamsBench BOOTSTRAP WORKLOAD INPUT OUTPUT EXPECTED [KEY=VALUE]...
 * </pre>
 *
 * Workloads (each the same topology as its Weir counterpart):
 * <ul>
 *   <li>{@code passthrough}: {@code stream(input).to(output)}, byte-array serdes
 *       (bench/to_only.yaml). EXPECTED: the records the output must hold.
 *   <li>{@code filtermap}: bench/python_pipeline.yaml's filter and mapValues in Java lambdas,
 *       JSON through Jackson. EXPECTED: the records the output must hold (those that pass).
 *   <li>{@code count}: bench/kafka/count.yaml: filter (status paid or shipped) → groupBy the
 *       customer's first 8 characters (1000 keys, repartitioned) → count() (logged store,
 *       cached, both defaults) → toStream → to. EXPECTED: the records the filter lets through,
 *       i.e. the sum of all counts once the input is processed.
 * </ul>
 *
 * KEY=VALUE pairs are Streams configs that override ours (e.g.
 * processing.guarantee=exactly_once_v2, statestore.cache.max.bytes=0). Defaults: a unique
 * application.id, at_least_once, the default commit interval, reading from the earliest
 * offset, one stream thread, a fresh temporary state dir.
 *
 * <p>Done when the work is processed: under at_least_once for passthrough and filtermap when
 * the output topic's end offsets add up to EXPECTED; for count when the store's counts add up
 * to EXPECTED (read through interactive queries); under exactly_once_v2 (whose transaction
 * markers take offsets in the output) when the group's committed offsets reach the input's
 * end. Then {@code close()} (which flushes, produces and commits what is left). Prints one
 * line on stdout, for run.sh: input records, seconds, records/s, records in the output, where
 * the seconds run from the state RUNNING (the group joined, tasks assigned) to the end of
 * close(). Details (start-up, processing, close) go to stderr.
 */
public final class StreamsBench {
  static final ObjectMapper MAPPER = new ObjectMapper();

  /** Kafka Streams' usual JSON serde: Jackson's tree model both ways. */
  static final class JsonSerde implements Serde<JsonNode> {
    @Override
    public Serializer<JsonNode> serializer() {
      return (topic, node) -> {
        if (node == null) return null;
        try {
          return MAPPER.writeValueAsBytes(node);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      };
    }

    @Override
    public Deserializer<JsonNode> deserializer() {
      return (topic, bytes) -> {
        if (bytes == null) return null;
        try {
          return MAPPER.readTree(bytes);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      };
    }
  }

  // python_pipeline.yaml's is_valid: value["amount"] >= 20.0 and value["status"] != "cancelled"
  static boolean isValid(JsonNode v) {
    return v.get("amount").asDouble() >= 20.0 && !v.get("status").asText().equals("cancelled");
  }

  // python_pipeline.yaml's enrich (the same fields, in the same order).
  static JsonNode enrich(JsonNode v) {
    double amount = v.get("amount").asDouble();
    ObjectNode r = MAPPER.createObjectNode();
    r.set("id", v.get("id"));
    r.set("customer", v.get("customer"));
    r.put("cents", (long) (amount * 100)); // Python's int(): truncates toward zero
    r.set("currency", v.get("currency"));
    r.put("region", v.get("region").asText().toUpperCase(Locale.ROOT));
    r.put("big", amount > 500);
    return r;
  }

  // count.yaml's is_settled: value["status"] in ("paid", "shipped")
  static boolean isSettled(JsonNode v) {
    String s = v.get("status").asText();
    return s.equals("paid") || s.equals("shipped");
  }

  // count.yaml's customer_group: value["customer"][:8] ("cust-123" of "cust-12345": 1000 keys)
  static String customerGroup(JsonNode v) {
    String c = v.get("customer").asText();
    return c.length() > 8 ? c.substring(0, 8) : c;
  }

  static final String COUNT_STORE = "counts";

  static Topology topology(String workload, String input, String output) {
    StreamsBuilder b = new StreamsBuilder();
    JsonSerde json = new JsonSerde();
    switch (workload) {
      case "passthrough" ->
          b.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
              .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
      case "filtermap" ->
          b.stream(input, Consumed.with(Serdes.String(), json))
              .filter((k, v) -> isValid(v))
              .mapValues(StreamsBench::enrich)
              .to(output, Produced.with(Serdes.String(), json));
      case "count" ->
          b.stream(input, Consumed.with(Serdes.String(), json))
              .filter((k, v) -> isSettled(v))
              .groupBy((k, v) -> customerGroup(v), Grouped.with("by_customer_group", Serdes.String(), json))
              .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE))
              .toStream()
              .to(output, Produced.with(Serdes.String(), Serdes.Long()));
      default -> throw new IllegalArgumentException("unknown workload: " + workload + " (count, passthrough, filtermap)");
    }
    return b.build();
  }

  static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws Exception {
    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
    Map<TopicPartition, OffsetSpec> want = new HashMap<>();
    d.partitions().forEach(p -> want.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
    Map<TopicPartition, Long> out = new HashMap<>();
    admin.listOffsets(want).all().get().forEach((tp, info) -> out.put(tp, info.offset()));
    return out;
  }

  static long sum(Map<TopicPartition, Long> offsets) {
    return offsets.values().stream().mapToLong(Long::longValue).sum();
  }

  static long countSum(KafkaStreams streams) {
    try {
      ReadOnlyKeyValueStore<String, Long> store =
          streams.store(StoreQueryParameters.fromNameAndType(COUNT_STORE, QueryableStoreTypes.keyValueStore()));
      long total = 0;
      try (KeyValueIterator<String, Long> it = store.all()) {
        while (it.hasNext()) {
          KeyValue<String, Long> kv = it.next();
          total += kv.value;
        }
      }
      return total;
    } catch (InvalidStateStoreException e) {
      return -1; // not queryable yet (rebalancing)
    }
  }

  static double secs(long fromNanos, long toNanos) {
    return (toNanos - fromNanos) / 1e9;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: StreamsBench BOOTSTRAP count|passthrough|filtermap INPUT OUTPUT EXPECTED [KEY=VALUE]...");
      System.exit(2);
    }
    String bootstrap = args[0], workload = args[1], input = args[2], output = args[3];
    long expected = Long.parseLong(args[4]);
    boolean verbose = System.getenv("BENCH_VERBOSE") != null;
    long idleLimitMs = Long.parseLong(System.getenv().getOrDefault("IDLE_TIMEOUT_S", "60")) * 1000;

    Path stateDir = Files.createTempDirectory("streams-bench-");
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "streams-bench-" + workload + "-" + UUID.randomUUID().toString().substring(0, 8));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    for (int i = 5; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("not KEY=VALUE: " + args[i]);
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    String appId = props.getProperty(StreamsConfig.APPLICATION_ID_CONFIG);
    boolean eos = !props.getProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG).equals(StreamsConfig.AT_LEAST_ONCE);

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    int status = 0;
    try (Admin admin = Admin.create(adminProps)) {
      Map<TopicPartition, Long> inputEnd = endOffsets(admin, input);
      long inputRecords = sum(inputEnd);
      long outputBefore = sum(endOffsets(admin, output));

      Topology topology = topology(workload, input, output);
      KafkaStreams streams = new KafkaStreams(topology, props);
      AtomicLong runningAt = new AtomicLong();
      streams.setStateListener((now, before) -> {
        if (now == KafkaStreams.State.RUNNING) runningAt.compareAndSet(0, System.nanoTime());
      });
      streams.setUncaughtExceptionHandler(e -> {
        System.err.println("stream thread failed: " + e);
        return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });

      long t0 = System.nanoTime();
      streams.start();
      long progress = -1, lastChange = System.nanoTime();
      boolean done = false;
      while (!done) {
        Thread.sleep(50);
        KafkaStreams.State state = streams.state();
        if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING
            || state == KafkaStreams.State.PENDING_ERROR || state == KafkaStreams.State.PENDING_SHUTDOWN) {
          System.err.println("Kafka Streams stopped: " + state);
          status = 1;
          break;
        }
        long now;
        if (eos) {
          Map<TopicPartition, OffsetAndMetadata> committed =
              admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
          long c = 0;
          for (TopicPartition tp : inputEnd.keySet()) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) c += o.offset();
          }
          now = c;
          done = c >= inputRecords;
        } else if (workload.equals("count")) {
          now = countSum(streams);
          done = now >= expected;
        } else {
          now = sum(endOffsets(admin, output)) - outputBefore;
          done = now >= expected;
        }
        if (verbose) System.err.printf("%.3f s %s %d%n", secs(t0, System.nanoTime()), state, now);
        if (now != progress) {
          progress = now;
          lastChange = System.nanoTime();
        } else if ((System.nanoTime() - lastChange) / 1_000_000 > idleLimitMs) {
          System.err.println("no progress for " + idleLimitMs / 1000 + " s: stopping at " + now + " of " + expected);
          status = 1;
          break;
        }
      }
      long tDone = System.nanoTime();
      streams.close(Duration.ofSeconds(60));
      long tClosed = System.nanoTime();
      streams.cleanUp();

      long out = sum(endOffsets(admin, output)) - outputBefore;
      long running = runningAt.get() == 0 ? t0 : runningAt.get();
      double seconds = secs(running, tClosed);
      System.err.printf(
          "kafka streams %s (%s): %d input records, start-up %.3f s, processing %.3f s, close %.3f s; %d records in %s%s%n",
          workload, props.getProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG), inputRecords,
          secs(t0, running), secs(running, tDone), secs(tDone, tClosed), out, output,
          eos ? " (offsets, with transaction markers)" : "");
      System.out.printf("%d %.3f %.0f %d%n", inputRecords, seconds, inputRecords / seconds, out);
    } finally {
      try (Stream<Path> files = Files.walk(stateDir)) {
        List<Path> all = new ArrayList<>(files.toList());
        all.sort(Comparator.reverseOrder());
        for (Path p : all) Files.deleteIfExists(p);
      }
    }
    System.exit(status);
  }
}
