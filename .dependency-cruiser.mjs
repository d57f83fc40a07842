/**
 * The layering of `src/`: each folder may import its own files and those of the folders before it in LAYERS, never
 * one after it; and only the transport and the wire adapters (WIRE) speak grpc-js. `npm test` runs this check.
 */
const LAYERS = [
  'core',
  'generated',
  'identity',
  'observability',
  'transport',
  'nats',
  'control-plane',
  'data-plane',
  'pubsub',
  'agent',
  'sidecar',
  'edge',
  'testing',
  'cli',
];

/** The files besides `transport/` that turn gRPC calls into the mesh's own: each one is a wire adapter. */
const WIRE = [
  'src/generated/',
  'src/control-plane/service.ts',
  'src/control-plane/client.ts',
  'src/data-plane/mesh-resolver.ts',
  'src/data-plane/routed-channel.ts',
  'src/pubsub/delivery-link.ts',
  'src/pubsub/subscriber.ts',
  'src/sidecar/app-connection.ts',
  'src/sidecar/app-http2.ts',
  'src/sidecar/forwarding-service.ts',
  'src/sidecar/outbound-server.ts',
];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

export default {
  forbidden: [
    ...LAYERS.map((layer, index) => ({
      name: `layer-${layer}`,
      comment: `src/${layer} may import only ${LAYERS.slice(0, index).join(', ') || 'nothing else in src'} (and itself)`,
      severity: 'error',
      from: { path: `^src/${escape(layer)}/` },
      to: {
        path: `^src/(${LAYERS.slice(index + 1)
          .map(escape)
          .join('|')})/`,
      },
    })),
    {
      name: 'root-files',
      comment: 'every source file lives in a layer folder; only src/index.ts sits at the top',
      severity: 'error',
      from: { path: '^src/(?!index\\.ts$)[^/]+$' },
      to: {},
    },
    {
      name: 'grpc-only-in-transport',
      comment:
        'only src/transport and the wire adapters listed in .dependency-cruiser.mjs import @grpc/grpc-js',
      severity: 'error',
      from: { path: '^src/', pathNot: `^(src/transport/|${WIRE.map(escape).join('|')})` },
      to: { path: '@grpc/grpc-js' },
    },
    {
      name: 'core-has-no-io',
      comment: 'src/core is the domain: no gRPC, no file system, no network, no processes',
      severity: 'error',
      from: { path: '^src/core/' },
      to: {
        path: '^(@grpc/|node:(fs|net|tls|http|https|http2|child_process|dgram|dns)|fs$|net$|tls$|http2?$)',
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    exclude: { path: '^src/generated/' },
  },
};
