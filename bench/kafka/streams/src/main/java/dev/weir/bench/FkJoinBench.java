package dev.weir.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams side of bench/fk/kafka.sh: examples/entity-updates/fk-join/pipeline.yaml's
 * topology in Java.
 *
 * <pre>
 *   FkJoinBench BOOTSTRAP APPLICATION_ID ITEMS CLASSES OUTPUT STATE_DIR [KEY=VALUE]...
 * </pre>
 *
 * The items table (string keys, JSON values, a logged store "items") joined with the classes
 * table (a logged store "classes") on the item's {@code class} field, a foreign-key table–table
 * join (inner), its results streamed to OUTPUT: each item with a {@code delivery} object holding
 * its class's fields except {@code class} (the pipeline's {@code with_delivery}).
 *
 * <p>It runs until SIGTERM or SIGINT, then closes (flushing and committing) and exits (143 or 130, the
 * JVM's status after a signal); the
 * script measures it from outside (outputs on the broker, GNU time). KEY=VALUE pairs are Streams
 * configs that override ours (at_least_once, one stream thread, reading from the earliest
 * offset). A line "running after S s" goes to stderr once the group is joined and the tasks are
 * assigned; a failed stream thread stops the client and the process exits 1.
 */
public final class FkJoinBench {
  private FkJoinBench() {}

  // the pipeline's with_delivery: {**value1, "delivery": {k: v for k, v in value2.items() if k != "class"}}
  static JsonNode withDelivery(JsonNode item, JsonNode deliveryClass) {
    ObjectNode out = item.deepCopy();
    ObjectNode delivery = StreamsBench.MAPPER.createObjectNode();
    deliveryClass.properties().forEach(e -> {
      if (!e.getKey().equals("class")) delivery.set(e.getKey(), e.getValue());
    });
    out.set("delivery", delivery);
    return out;
  }

  static Topology topology(String items, String classes, String output) {
    StreamsBuilder b = new StreamsBuilder();
    StreamsBench.JsonSerde json = new StreamsBench.JsonSerde();
    KTable<String, JsonNode> itemTable = b.table(items, Consumed.with(Serdes.String(), json),
        Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("items")
            .withKeySerde(Serdes.String()).withValueSerde(json));
    KTable<String, JsonNode> classTable = b.table(classes, Consumed.with(Serdes.String(), json),
        Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>as("classes")
            .withKeySerde(Serdes.String()).withValueSerde(json));
    itemTable
        .join(classTable, (JsonNode item) -> item.get("class").asText(), FkJoinBench::withDelivery)
        .toStream()
        .to(output, Produced.with(Serdes.String(), json));
    return b.build();
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 6) {
      System.err.println("usage: FkJoinBench BOOTSTRAP APPLICATION_ID ITEMS CLASSES OUTPUT STATE_DIR [KEY=VALUE]...");
      System.exit(2);
    }
    Properties props = new Properties();
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
    props.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    for (int i = 6; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("not KEY=VALUE: " + args[i]);
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    Topology topology = topology(args[2], args[3], args[4]);
    System.err.println(topology.describe());

    KafkaStreams streams = new KafkaStreams(topology, props);
    long t0 = System.nanoTime();
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && before == KafkaStreams.State.REBALANCING) {
        System.err.printf("running after %.3f s%n", (System.nanoTime() - t0) / 1e9);
      }
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("stream thread failed: " + e);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    AtomicBoolean signalled = new AtomicBoolean();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      signalled.set(true);
      streams.close(Duration.ofSeconds(60));
    }));
    streams.start();
    stopped.await();
    if (signalled.get()) return; // the hook closes it; the JVM exits once it has
    // stopped on its own: a failure
    streams.close(Duration.ofSeconds(60));
    System.exit(1);
  }
}
