// The process owners' modeller, bundled by esbuild (`make js`) into web/static/build/modeller-bundle.js:
// bpmn-js with the properties panel for Camunda 7 (camunda-bpmn-js-behaviors keeps the camunda:*
// extensions consistent as elements change), the project's element templates (workflows/templates), and
// bpmnlint's recommended rules run live (bpmn-js-bpmnlint, the project's .bpmnlintrc packed at build time).
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaPlatformBehaviors from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import { ElementTemplatesPropertiesProviderModule } from "bpmn-js-element-templates";
import LintModule from "bpmn-js-bpmnlint";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import bpmnlintConfig from "../static/build/bpmnlint-config.mjs";

window.PathwaysModeler = function (options) {
  return new BpmnModeler({
    container: options.container,
    propertiesPanel: { parent: options.panel },
    elementTemplates: options.templates || [],
    linting: { bpmnlint: bpmnlintConfig, active: true },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaPlatformBehaviors,
      ElementTemplatesPropertiesProviderModule,
      LintModule,
    ],
    moddleExtensions: { camunda: camundaModdle },
  });
};
